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

TEST(RankPrefixTest, SingleNodeShowsRankOnly) {
  EXPECT_EQ(RankPrefix(3, 0, 1), "[rank 3]: ");
}

TEST(RankPrefixTest, MultiNodeShowsNodeToo) {
  EXPECT_EQ(RankPrefix(5, 1, 2), "[node 1 rank 5]: ");
}

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
  EXPECT_THAT(WorkerOutput::Create(o),
              StatusIs(absl::StatusCode::kInternal, ::testing::HasSubstr("/nonexistent-dir/x.log")));
  Console(out_);
  Console(err_);
}

}  // namespace
}  // namespace fabric::launcher
