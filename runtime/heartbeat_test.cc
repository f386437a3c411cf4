// The runtime's heartbeat writer over real files of each heartbeat version, read back
// through the agent's decoder (common/worker_control.h).
#include "runtime/heartbeat.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "common/status_matchers.h"
#include "common/worker_control.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::runtime {
namespace {

class HeartbeatWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/heartbeat_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const std::string& f : files_) unlink(f.c_str());
    rmdir(dir_.c_str());
  }
  // A file holding `bytes`, as the agent writes it.
  std::string Make(const std::string& name, const std::string& bytes) {
    const std::string path = dir_ + "/" + name;
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    close(fd);
    files_.push_back(path);
    return path;
  }
  // The file's whole content, as the agent reads it.
  static std::string Read(const std::string& path) {
    std::string out(4096, '\0');
    const int fd = open(path.c_str(), O_RDONLY);
    const ssize_t n = pread(fd, out.data(), out.size(), 0);
    close(fd);
    out.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return out;
  }
  static HeartbeatWords V(int version) {
    HeartbeatWords w;
    w.version = version;
    return w;
  }

  std::string dir_;
  std::vector<std::string> files_;
};

TEST_F(HeartbeatWriterTest, WritesStepAndTotalIntoAVersionTwoFile) {
  const std::string path = Make("v2.beat", NewHeartbeatFile());
  HeartbeatWriter w(path);
  ASSERT_TRUE(w.open());
  EXPECT_TRUE(w.reports_step());
  w.Beat();
  w.Beat();
  w.AckShrink();
  w.SetTotalSteps(300);
  w.SetStep(0);
  FABRIC_ASSERT_OK_AND_ASSIGN(HeartbeatWords zero, DecodeHeartbeat(Read(path)));
  EXPECT_EQ(zero.step, 0u);  // step 0 reported, not "not reported"
  w.SetStep(41);
  FABRIC_ASSERT_OK_AND_ASSIGN(HeartbeatWords got, DecodeHeartbeat(Read(path)));
  EXPECT_EQ(got.beats, 2u);
  EXPECT_EQ(got.shrinks_taken, 1u);
  EXPECT_EQ(got.version, kHeartbeatVersion);
  EXPECT_EQ(got.step, 41u);
  EXPECT_EQ(got.total, 300u);
}

TEST_F(HeartbeatWriterTest, AnOlderAgentsShorterFileGetsNoStepAndIsNotGrown) {
  for (int version : {0, 1}) {
    const std::string before = EncodeHeartbeat(V(version));
    const std::string path = Make("v" + std::to_string(version) + ".beat", before);
    HeartbeatWriter w(path);
    ASSERT_TRUE(w.open()) << version;
    EXPECT_FALSE(w.reports_step()) << version;
    w.SetStep(5);
    w.SetTotalSteps(9);
    w.Beat();
    w.AckShrink();
    const std::string after = Read(path);
    ASSERT_EQ(after.size(), before.size()) << version;
    FABRIC_ASSERT_OK_AND_ASSIGN(HeartbeatWords got, DecodeHeartbeat(after));
    EXPECT_EQ(got.beats, 1u);
    EXPECT_EQ(got.shrinks_taken, 1u);
    EXPECT_EQ(got.version, version);
    // Nothing but words 0 and 1 changed (the version word of a version-1 file included).
    EXPECT_EQ(after.substr(16), before.substr(16)) << version;
  }
}

TEST_F(HeartbeatWriterTest, AFortyByteFileOfVersionOneIsNotWrittenAsVersionTwo) {
  std::string bytes = EncodeHeartbeat(V(1));
  bytes.append(16, '\x07');
  const std::string path = Make("v1long.beat", bytes);
  HeartbeatWriter w(path);
  EXPECT_FALSE(w.reports_step());
  w.SetStep(1);
  EXPECT_EQ(Read(path), bytes);
}

TEST_F(HeartbeatWriterTest, ATruncatedVersionTwoFileGetsNoStep) {
  const std::string path = Make("cut.beat", NewHeartbeatFile().substr(0, 32));
  HeartbeatWriter w(path);
  ASSERT_TRUE(w.open());
  EXPECT_FALSE(w.reports_step());
  w.SetStep(1);
  w.SetTotalSteps(2);
  EXPECT_EQ(Read(path), NewHeartbeatFile().substr(0, 32));
}

TEST_F(HeartbeatWriterTest, NoFileOrAnEmptyOneMakesEveryWriteANoOp) {
  for (const std::string& path :
       {std::string(), dir_ + "/missing.beat", Make("empty.beat", std::string())}) {
    HeartbeatWriter w(path);
    EXPECT_FALSE(w.open()) << path;
    EXPECT_FALSE(w.reports_step()) << path;
    w.Beat();  // no crash (an empty file mapped would SIGBUS)
    w.SetStep(3);
    w.SetTotalSteps(3);
    w.AckShrink();
  }
  EXPECT_EQ(Read(dir_ + "/empty.beat"), "");
}

// The process-wide functions write through the file OpenHeartbeatFile mapped (once per
// process: this is the one test that opens it).
TEST_F(HeartbeatWriterTest, TheProcessWideReportsReachTheOpenedFile) {
  const std::string path = Make("process.beat", NewHeartbeatFile());
  ReportStep(99);  // before OpenHeartbeatFile: a no-op
  OpenHeartbeatFile(path);
  Beat();
  ReportTotalSteps(1000);
  ReportStep(12);
  FABRIC_ASSERT_OK_AND_ASSIGN(HeartbeatWords got, DecodeHeartbeat(Read(path)));
  EXPECT_EQ(got.beats, 1u);
  EXPECT_EQ(got.step, 12u);
  EXPECT_EQ(got.total, 1000u);
}

// fabric-run stacks (common/worker_control.h, 4): a child under a heartbeat file dumps its
// stack into the stack file on the signal, and goes on running; the handler is only there
// once a heartbeat file is open (negative control: without one, no stack file).
std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// runtime/stack_dump_child: a fresh process that opens `beat_path` and installs the handlers.
pid_t ChildWithHandler(const std::string& beat_path) {
  const std::string bin = std::string(std::getenv("TEST_SRCDIR")) + "/" +
                          std::getenv("TEST_WORKSPACE") + "/runtime/stack_dump_child";
  const pid_t child = fork();
  if (child == 0) {
    execl(bin.c_str(), bin.c_str(), beat_path.c_str(), nullptr);
    _exit(127);
  }
  return child;
}

TEST_F(HeartbeatWriterTest, TheDumpSignalWritesTheStackAndTheWorkerGoesOn) {
  const std::string beat = Make("dump.beat", EncodeHeartbeat(HeartbeatWords{.version = 2}));
  const std::string stack = StackFileFor(beat);
  files_.push_back(stack);
  const pid_t child = ChildWithHandler(beat);
  ASSERT_GT(child, 0);
  struct stat st;
  for (int i = 0; i < 200 && stat(stack.c_str(), &st) != 0; ++i) usleep(10000);
  ASSERT_EQ(stat(stack.c_str(), &st), 0) << "the runtime creates the stack file";
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  for (int round = 0; round < 2; ++round) {  // twice: the handler stays installed
    ASSERT_EQ(kill(child, StackDumpSignal()), 0);
    std::string text;
    for (int i = 0; i < 200; ++i) {
      text = Slurp(stack);
      if (text.find(kStackDumpEnd) != std::string::npos) break;
      usleep(10000);
    }
    EXPECT_THAT(text, ::testing::StartsWith("*** fabric runtime: live stack"));
    EXPECT_THAT(text, ::testing::EndsWith(kStackDumpEnd));
    EXPECT_GT(std::count(text.begin(), text.end(), '\n'), 2) << text;
    int status = 0;
    EXPECT_EQ(waitpid(child, &status, WNOHANG), 0) << "the worker died of the dump";
    std::ofstream(stack, std::ios::trunc).close();
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}

TEST_F(HeartbeatWriterTest, NoHeartbeatFileNoStackFile) {
  const std::string beat = dir_ + "/absent.beat";  // never created: not under fabric-run
  const pid_t child = ChildWithHandler(beat);
  usleep(200000);
  struct stat st;
  EXPECT_NE(stat(StackFileFor(beat).c_str(), &st), 0);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}

}  // namespace
}  // namespace fabric::runtime
