#include "launcher/error_file.h"

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::HasSubstr;

TEST(ErrorFileTest, EncodesTheNestedFormTorchWrites) {
  EXPECT_EQ(EncodeErrorFile({"ValueError: bad \"batch\"\n", "Traceback\n  x", 1700000000}),
            R"({"message":{"message":"ValueError: bad \"batch\"\n","extraInfo":)"
            R"({"py_callstack":"Traceback\n  x","timestamp":"1700000000"}}})");
}

TEST(ErrorFileTest, EncodesNonAsciiAsEscapesAndReplacesInvalidUtf8) {
  const std::string out = EncodeErrorFile({"caf\xc3\xa9 \xf0\x9f\x98\x80 \xff\x7f", "", 0});
  EXPECT_THAT(out, HasSubstr(R"("caf\u00e9 \ud83d\ude00 \ufffd\u007f")"));
  for (char c : out) EXPECT_LT(static_cast<unsigned char>(c), 0x80) << out;
}

TEST(ErrorFileTest, RoundTrips) {
  const ErrorFile in{"RuntimeError: x\ty\\z", "tb \"1\"", 42};
  FABRIC_ASSERT_OK_AND_ASSIGN(ErrorFile out, ParseErrorFile(EncodeErrorFile(in)));
  EXPECT_EQ(out.message, in.message);
  EXPECT_EQ(out.py_callstack, in.py_callstack);
  EXPECT_EQ(out.timestamp, 42);
}

TEST(ErrorFileTest, ReadsWhatPythonsJsonDumpWrites) {
  // json.dump of ErrorHandler.record_exception's dict (torch 2.11), separators ", " ": ".
  FABRIC_ASSERT_OK_AND_ASSIGN(
      ErrorFile e,
      ParseErrorFile(R"({"message": {"message": "ValueError: caf\u00e9", "extraInfo": )"
                     R"({"py_callstack": "Traceback (most recent call last):\n", )"
                     R"("timestamp": "1700000001"}}})"));
  EXPECT_EQ(e.message, "ValueError: caf\xc3\xa9");
  EXPECT_EQ(e.py_callstack, "Traceback (most recent call last):\n");
  EXPECT_EQ(e.timestamp, 1700000001);
}

TEST(ErrorFileTest, ReadsTheFlatForm) {
  FABRIC_ASSERT_OK_AND_ASSIGN(ErrorFile e,
                              ParseErrorFile(R"({"message": "<NONE>", "timestamp": 5})"));
  EXPECT_EQ(e.message, "<NONE>");
  EXPECT_EQ(e.timestamp, 5);
}

TEST(ErrorFileTest, OptionalPartsMayBeMissingOrOdd) {
  FABRIC_ASSERT_OK_AND_ASSIGN(
      ErrorFile e, ParseErrorFile(R"({"message": {"message": "m", "extraInfo": {"timestamp": 1e300,
                                      "py_callstack": 3}}})"));
  EXPECT_EQ(e.message, "m");
  EXPECT_EQ(e.py_callstack, "");
  EXPECT_EQ(e.timestamp, 0);
  FABRIC_ASSERT_OK_AND_ASSIGN(e, ParseErrorFile(R"({"message": {"message": "m"}})"));
  EXPECT_EQ(e.message, "m");
}

TEST(ErrorFileTest, RefusesWhatHasNoMessage) {
  for (const char* bad : {"", "not json", "[]", R"({"message": 3})", R"({"msg": "x"})",
                          R"({"message": {"extraInfo": {}}})", R"({"message": {"message": null}})",
                          R"({"message": "x"} trailing)", R"({"message": [{"message": "x"}]})"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ParseErrorFile(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("error file")));
  }
}

}  // namespace
}  // namespace fabric::launcher
