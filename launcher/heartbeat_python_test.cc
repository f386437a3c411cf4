// fabric_heartbeat.py (the helper HangWatch writes) run by a real Python process (the
// repository's .venv, FABRIC_VENV_PYTHON) on a heartbeat file the agent made; the file is
// read back through the agent's decoder (common/worker_control.h) and HangWatch.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fake_clock.h"
#include "common/worker_control.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "launcher/fake_process_launcher.h"
#include "launcher/hang_watch.h"

namespace fabric::launcher {
namespace {

class HeartbeatPythonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* py = std::getenv("FABRIC_VENV_PYTHON");
    ASSERT_NE(py, nullptr) << "FABRIC_VENV_PYTHON unset (tests/BUILD.bazel's VENV_PYTHON)";
    python_ = py;
    char tmpl[] = "/tmp/heartbeat_python_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    absl::StatusOr<std::unique_ptr<HangWatch>> w =
        HangWatch::Create(dir_, absl::Seconds(10), &clock_, &launcher_, [](const std::string&) {});
    ASSERT_TRUE(w.ok()) << w.status();
    watch_ = std::move(*w);
    file_ = HangWatch::BeatFile(dir_, 0, 0);
    ASSERT_TRUE(watch_->AddBeatFile(0, file_).ok());
    watch_->StartAttempt({1000}, {0});
  }
  void TearDown() override {
    watch_.reset();  // removes the beat file and the helper
    rmdir(dir_.c_str());
  }
  // Runs `code` in Python with a worker's environment (FABRIC_HEARTBEAT_FILE = `file`
  // unless empty; the helper's directory on PYTHONPATH); returns its wait status.
  int RunPython(const std::string& code, const std::string& file) {
    std::vector<std::string> env = {absl::StrCat("PYTHONPATH=", dir_), "PYTHONDONTWRITEBYTECODE=1"};
    if (!file.empty()) env.push_back(absl::StrCat("FABRIC_HEARTBEAT_FILE=", file));
    std::vector<char*> envp, argv;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string c = "-c";
    std::string code_copy = code;
    argv = {python_.data(), c.data(), code_copy.data(), nullptr};
    const pid_t pid = fork();
    if (pid == 0) {
      execve(python_.c_str(), argv.data(), envp.data());
      _exit(127);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    return status;
  }
  static std::string Read(const std::string& path) {
    std::string out(4096, '\0');
    const int fd = open(path.c_str(), O_RDONLY);
    const ssize_t n = pread(fd, out.data(), out.size(), 0);
    close(fd);
    out.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return out;
  }
  static HeartbeatWords Decode(const std::string& bytes) {
    absl::StatusOr<HeartbeatWords> w = DecodeHeartbeat(bytes);
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? *w : HeartbeatWords{};
  }

  std::string python_;
  std::string dir_;
  std::string file_;
  FakeClock clock_;
  FakeProcessLauncher launcher_;
  std::unique_ptr<HangWatch> watch_;
};

TEST_F(HeartbeatPythonTest, BeatWithoutArgumentsOnlyBumpsTheBeats) {
  ASSERT_EQ(RunPython("import fabric_heartbeat as h\nh.beat()\nh.beat()", file_), 0);
  const HeartbeatWords w = Decode(Read(file_));
  EXPECT_EQ(w.beats, 2u);
  EXPECT_EQ(w.step, std::nullopt);
  EXPECT_EQ(w.total, std::nullopt);
  EXPECT_EQ(w.version, kHeartbeatVersion);
}

TEST_F(HeartbeatPythonTest, BeatWithStepAndTotalWritesWordsThreeAndFour) {
  ASSERT_EQ(RunPython("import fabric_heartbeat as h\n"
                      "h.beat(step=0, total=50)\n"
                      "h.beat(step=3)\n"  // total kept
                      "h.beat()",         // step kept
                      file_),
            0);
  const HeartbeatWords w = Decode(Read(file_));
  EXPECT_EQ(w.beats, 3u);
  EXPECT_EQ(w.step, 3u);
  EXPECT_EQ(w.total, 50u);
  watch_->SampleProgress();
  std::optional<RankProgress> p = watch_->Progress(0);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->step, 3u);
  EXPECT_EQ(p->total, 50u);
  EXPECT_EQ(p->beats, 3u);
}

TEST_F(HeartbeatPythonTest, StepZeroIsReportedAsZero) {
  ASSERT_EQ(RunPython("import fabric_heartbeat as h\nh.beat(step=0)", file_), 0);
  EXPECT_EQ(Decode(Read(file_)).step, 0u);
}

TEST_F(HeartbeatPythonTest, ANegativeOrFractionalStepRaisesAndWritesNothing) {
  for (const char* bad : {"h.beat(step=-1)", "h.beat(step=1.5)", "h.beat(total=-2)"}) {
    const int status = RunPython(absl::StrCat("import fabric_heartbeat as h\n", bad), file_);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << bad << ": " << status;
  }
  EXPECT_EQ(Read(file_), NewHeartbeatFile());
}

TEST_F(HeartbeatPythonTest, AnOlderAgentsFileGetsBeatsButNoStepAndIsNotGrown) {
  HeartbeatWords v1;
  v1.version = 1;
  const std::string old_file = dir_ + "/old.beat";
  const std::string before = EncodeHeartbeat(v1);
  {
    const int fd = open(old_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_EQ(write(fd, before.data(), before.size()), static_cast<ssize_t>(before.size()));
    close(fd);
  }
  ASSERT_EQ(RunPython("import fabric_heartbeat as h\nh.beat(step=4, total=8)", old_file), 0);
  const std::string after = Read(old_file);
  unlink(old_file.c_str());
  ASSERT_EQ(after.size(), kHeartbeatFileSizeV1);
  const HeartbeatWords w = Decode(after);
  EXPECT_EQ(w.beats, 1u);
  EXPECT_EQ(w.version, 1);
  EXPECT_EQ(after.substr(8), before.substr(8));  // only the beats word changed
}

TEST_F(HeartbeatPythonTest, WithoutFabricRunBeatDoesNothing) {
  ASSERT_EQ(RunPython("import fabric_heartbeat as h\nh.beat(step=1, total=2)", ""), 0);
  EXPECT_EQ(Read(file_), NewHeartbeatFile());
}

}  // namespace
}  // namespace fabric::launcher
