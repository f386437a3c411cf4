#include "launcher/zygote_request.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::ElementsAre;

TEST(ZygoteRequestTest, ScriptWithArgumentsIsForkable) {
  std::optional<PythonTarget> t =
      ParsePythonArgv("/v/bin/python", {"/v/bin/python", "t.py", "-u", "x"});
  ASSERT_TRUE(t.has_value());
  EXPECT_FALSE(t->module);
  EXPECT_FALSE(t->unbuffered);
  EXPECT_EQ(t->target, "t.py");
  EXPECT_THAT(t->args, ElementsAre("-u", "x"));  // after the script: the program's
}

TEST(ZygoteRequestTest, UnbufferedModuleIsForkable) {
  std::optional<PythonTarget> t =
      ParsePythonArgv("py3", {"py3", "-u", "-m", "pkg.main", "--lr", "1"});
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->module);
  EXPECT_TRUE(t->unbuffered);
  EXPECT_EQ(t->target, "pkg.main");
  EXPECT_THAT(t->args, ElementsAre("--lr", "1"));
}

TEST(ZygoteRequestTest, OtherInterpretersAndOptionsAreSpawned) {
  EXPECT_FALSE(ParsePythonArgv("/a/python", {"/b/python", "t.py"}).has_value());
  EXPECT_FALSE(ParsePythonArgv("python", {"python", "-c", "print(1)"}).has_value());
  EXPECT_FALSE(ParsePythonArgv("python", {"python", "-X", "dev", "t.py"}).has_value());
  EXPECT_FALSE(ParsePythonArgv("python", {"python", "-m"}).has_value());
  EXPECT_FALSE(ParsePythonArgv("python", {"python"}).has_value());
  EXPECT_FALSE(ParsePythonArgv("python", {}).has_value());
}

TEST(ZygoteRequestTest, LooksLikePythonReadsTheFileName) {
  EXPECT_TRUE(LooksLikePython("/usr/bin/python3.11"));
  EXPECT_TRUE(LooksLikePython("python"));
  EXPECT_FALSE(LooksLikePython("/opt/python/bin/train"));
}

TEST(ZygoteRequestTest, RequestCarriesEveryFieldInOrder) {
  PythonTarget t{false, "t.py", true, {"a", ""}};
  SpawnSpec spec;
  spec.env = {"RANK=1", "EMPTY="};
  spec.cpus = {2, 3};
  const std::string req = EncodeSpawnRequest(t, spec, "/w");
  std::vector<std::string> f = absl::StrSplit(req, absl::string_view("\0", 1));
  EXPECT_THAT(f, ElementsAre("spawn", "script", "t.py", "1", "/w", "2,3", "2", "a", "", "RANK=1",
                             "EMPTY="));
}

}  // namespace
}  // namespace fabric::launcher
