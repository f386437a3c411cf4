#include "launcher/worker_output.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::ElementsAre;

std::string ReadFd(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(RankPrefixTest, SingleNodeShowsRankOnly) { EXPECT_EQ(RankPrefix(3, 0, 1), "[rank 3]: "); }

TEST(RankPrefixTest, MultiNodeShowsNodeToo) { EXPECT_EQ(RankPrefix(5, 1, 2), "[node 1 rank 5]: "); }

class WorkerOutputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(pipe(out_), 0);
    ASSERT_EQ(pipe(err_), 0);
    dir_ = std::getenv("TEST_TMPDIR");
  }
  WorkerOutputOptions Options() {
    WorkerOutputOptions o;
    o.prefix = "[rank 1]: ";
    o.console_stdout = out_[1];
    o.console_stderr = err_[1];
    o.stdout_log = dir_ + "/out.log";
    o.stderr_log = dir_ + "/err.log";
    o.tail_lines = 2;
    return o;
  }
  std::string Console(int* p) {
    close(p[1]);
    std::string s = ReadFd(p[0]);
    close(p[0]);
    return s;
  }
  int out_[2];
  int err_[2];
  std::string dir_;
};

TEST_F(WorkerOutputTest, PrefixesWholeLinesAndFlushesThePartialLast) {
  {
    FABRIC_ASSERT_OK_AND_ASSIGN(auto w, WorkerOutput::Create(Options()));
    w->OnData(Stream::kStdout, "hello\nwor");
    w->OnData(Stream::kStdout, "ld\nno newline");
    w->OnEof(Stream::kStdout);
  }
  EXPECT_EQ(Console(out_), "[rank 1]: hello\n[rank 1]: world\n[rank 1]: no newline\n");
  EXPECT_EQ(ReadFile(dir_ + "/out.log"), "hello\nworld\nno newline");
  Console(err_);
}

TEST_F(WorkerOutputTest, KeepsTheLastStderrLines) {
  FABRIC_ASSERT_OK_AND_ASSIGN(auto w, WorkerOutput::Create(Options()));
  w->OnData(Stream::kStderr, "a\nb\nc\n");
  w->OnData(Stream::kStdout, "not stderr\n");
  EXPECT_THAT(w->StderrTail(), ElementsAre("b", "c"));
  w.reset();
  EXPECT_EQ(Console(err_), "[rank 1]: a\n[rank 1]: b\n[rank 1]: c\n");
  EXPECT_EQ(ReadFile(dir_ + "/err.log"), "a\nb\nc\n");
  Console(out_);
}

TEST_F(WorkerOutputTest, FilteredRankStillReachesItsFile) {
  WorkerOutputOptions o = Options();
  o.to_console = false;
  {
    FABRIC_ASSERT_OK_AND_ASSIGN(auto w, WorkerOutput::Create(o));
    w->OnData(Stream::kStdout, "quiet\n");
  }
  EXPECT_EQ(Console(out_), "");
  EXPECT_EQ(ReadFile(dir_ + "/out.log"), "quiet\n");
  Console(err_);
}

TEST_F(WorkerOutputTest, UnwritableLogFileIsAnError) {
  WorkerOutputOptions o = Options();
  o.stdout_log = "/nonexistent-dir/x.log";
  EXPECT_THAT(WorkerOutput::Create(o), StatusIs(absl::StatusCode::kInternal,
                                                ::testing::HasSubstr("/nonexistent-dir/x.log")));
  Console(out_);
  Console(err_);
}

// A full disk (/dev/full: every write fails with ENOSPC): the output still reaches the
// console, and one warning names the file and the error, once for all workers sharing
// the flag.
TEST_F(WorkerOutputTest, AFullDiskGivesOneWarningAndTheConsoleKeepsEverything) {
  bool said = false;
  WorkerOutputOptions a = Options();
  a.stdout_log = "/dev/full";
  a.stderr_log = "/dev/full";
  a.log_warning_said = &said;
  WorkerOutputOptions b = a;
  b.prefix = "[rank 2]: ";
  {
    FABRIC_ASSERT_OK_AND_ASSIGN(auto wa, WorkerOutput::Create(a));
    FABRIC_ASSERT_OK_AND_ASSIGN(auto wb, WorkerOutput::Create(b));
    for (int i = 0; i < 3; ++i) {
      wa->OnData(Stream::kStdout, "out\n");
      wa->OnData(Stream::kStderr, "err\n");
      wb->OnData(Stream::kStdout, "out\n");
    }
  }
  EXPECT_TRUE(said);
  EXPECT_EQ(Console(out_),
            "[rank 1]: out\n[rank 2]: out\n[rank 1]: out\n"
            "[rank 2]: out\n[rank 1]: out\n[rank 2]: out\n");
  const std::string err = Console(err_);
  EXPECT_THAT(err, ::testing::HasSubstr(
                       "fabric-run: warning: cannot write the log file /dev/full: No space "
                       "left on device; the workers keep running"));
  size_t warnings = 0;
  for (size_t at = err.find("warning"); at != std::string::npos; at = err.find("warning", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 1u) << err;
  EXPECT_THAT(err, ::testing::HasSubstr("[rank 1]: err\n[rank 1]: err\n[rank 1]: err\n"));
}

}  // namespace
}  // namespace fabric::launcher
