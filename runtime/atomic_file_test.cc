#include "runtime/atomic_file.h"

#include <dirent.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::runtime {
namespace {

using ::testing::HasSubstr;

std::string TempDir() {
  std::string tmpl =
      std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") + "/atomic_XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  return mkdtemp(buf.data());
}

TEST(AtomicFileTest, WritesAndReadsBack) {
  std::string path = TempDir() + "/sub/dir/file.bin";
  ASSERT_THAT(WriteFileAtomically(path, "hello"), IsOk());
  EXPECT_EQ(ReadWholeFile(path).value_or(""), "hello");
  ASSERT_THAT(WriteFileAtomically(path, "second"), IsOk());
  EXPECT_EQ(ReadWholeFile(path).value_or(""), "second");
}

TEST(AtomicFileTest, CrashMidWriteLeavesTheOldFileIntact) {
  std::string dir = TempDir();
  std::string path = dir + "/ckpt";
  ASSERT_THAT(WriteFileAtomically(path, std::string(1000, 'a')), IsOk());
  AtomicWriteOptions o;
  o.chunk_bytes = 100;
  o.after_chunk = [](int64_t written) {
    return written >= 300 ? absl::AbortedError("injected crash") : absl::OkStatus();
  };
  EXPECT_THAT(WriteFileAtomically(path, std::string(1000, 'b'), o),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("injected")));
  EXPECT_EQ(ReadWholeFile(path).value_or(""), std::string(1000, 'a'));
  // The next write succeeds over the leftover temporary.
  ASSERT_THAT(WriteFileAtomically(path, "c"), IsOk());
  EXPECT_EQ(ReadWholeFile(path).value_or(""), "c");
}

TEST(AtomicFileTest, MissingFileIsNotFound) {
  EXPECT_THAT(ReadWholeFile(TempDir() + "/nope").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
}

TEST(AtomicFileTest, UnwritableDirectoryIsAnError) {
  std::string dir = TempDir();
  ASSERT_THAT(WriteFileAtomically(dir + "/f", "x"), IsOk());
  // A path under a regular file cannot be created.
  EXPECT_THAT(WriteFileAtomically(dir + "/f/g", "x"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a directory")));
}

}  // namespace
}  // namespace fabric::runtime
