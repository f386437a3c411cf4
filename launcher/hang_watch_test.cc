// HangWatch over real files in a temporary directory, a fake clock and a fake launcher:
// which signals reach which worker, and when.
#include "launcher/hang_watch.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fake_clock.h"
#include "common/worker_control.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "launcher/fake_process_launcher.h"

namespace fabric::launcher {
namespace {

using ::testing::HasSubstr;

class HangWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hang_watch_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    absl::StatusOr<std::unique_ptr<HangWatch>> w = HangWatch::Create(
        dir_, absl::Seconds(10), &clock_, &launcher_, [this](const std::string& s) { said_ += s; });
    ASSERT_TRUE(w.ok()) << w.status();
    watch_ = std::move(*w);
  }
  void TearDown() override {
    watch_.reset();
    rmdir(dir_.c_str());  // fails (and the test shows the leak) if a file was left
  }
  // Starts an attempt of `n` workers (pids 1000 + local rank); returns their beat files.
  std::vector<std::string> Start(int n) {
    std::vector<std::string> files;
    std::vector<pid_t> pids;
    std::vector<int> ranks;
    for (int i = 0; i < n; ++i) {
      files.push_back(HangWatch::BeatFile(dir_, 0, i));
      EXPECT_TRUE(watch_->AddBeatFile(i, files.back()).ok());
      pids.push_back(1000 + i);
      ranks.push_back(10 + i);
    }
    watch_->StartAttempt(pids, ranks);
    return files;
  }
  // What a worker does: bump word `word` of its heartbeat file.
  static void Bump(const std::string& file, size_t offset) {
    const int fd = open(file.c_str(), O_RDWR);
    ASSERT_GE(fd, 0) << file;
    uint64_t v = 0;
    ASSERT_EQ(pread(fd, &v, 8, static_cast<off_t>(offset)), 8);
    ++v;
    ASSERT_EQ(pwrite(fd, &v, 8, static_cast<off_t>(offset)), 8);
    close(fd);
  }
  void Tick(absl::Duration d) {
    clock_.AdvanceTime(d);
    watch_->OnTimer();
  }

  std::string dir_;
  FakeClock clock_;
  FakeProcessLauncher launcher_;
  std::string said_;
  std::unique_ptr<HangWatch> watch_;
};

TEST_F(HangWatchTest, AWorkerThatStopsBeatingGetsSigabrtThenTheStopSignalOnlyItself) {
  std::vector<std::string> files = Start(2);
  for (const std::string& f : files) Bump(f, kHeartbeatBeatsOffset);
  watch_->OnTimer();
  // Rank 11 keeps beating; rank 10 does not.
  int ticks = 0;
  while (launcher_.process_signals().empty() && ticks < 30) {
    Bump(files[1], kHeartbeatBeatsOffset);
    Tick(absl::Milliseconds(500));
    ++ticks;
  }
  EXPECT_GE(ticks, 20);  // not before the 10 s hang timeout
  EXPECT_LE(ticks, 22);  // and within a sample period (at most 1 s) of it
  ASSERT_EQ(launcher_.process_signals().size(), 1u);
  EXPECT_EQ(launcher_.process_signals()[0].pgid, 1000);  // the pid, not a group
  EXPECT_EQ(launcher_.process_signals()[0].sig, SIGABRT);
  EXPECT_TRUE(launcher_.signals().empty());  // no group signal from the hang watch
  EXPECT_THAT(said_, HasSubstr("rank 10 (pid 1000) is hung"));
  ASSERT_NE(watch_->HangReason(0), nullptr);
  EXPECT_EQ(watch_->HangReason(1), nullptr);
  // Still alive after the capture time: the stop signal.
  Tick(absl::Milliseconds(500));
  EXPECT_EQ(launcher_.process_signals().size(), 1u);  // the capture time is 1 s
  Tick(absl::Milliseconds(600));
  ASSERT_EQ(launcher_.process_signals().size(), 2u);
  EXPECT_EQ(launcher_.process_signals()[1].pgid, 1000);
  EXPECT_EQ(launcher_.process_signals()[1].sig, SIGKILL);
  watch_->EndAttempt();
  for (const std::string& f : files) EXPECT_NE(access(f.c_str(), F_OK), 0) << f;
}

TEST_F(HangWatchTest, AWorkerThatExitsBeforeTheStopIsNotSignalledAgain) {
  std::vector<std::string> files = Start(1);
  Bump(files[0], kHeartbeatBeatsOffset);
  watch_->OnTimer();
  Tick(absl::Seconds(11));
  ASSERT_EQ(launcher_.process_signals().size(), 1u);
  watch_->OnWorkerExit(1000);
  Tick(absl::Seconds(2));
  EXPECT_EQ(launcher_.process_signals().size(), 1u);
  watch_->EndAttempt();
}

TEST_F(HangWatchTest, ShrinksTakenIsTheFilesSecondWord) {
  std::vector<std::string> files = Start(1);
  EXPECT_EQ(watch_->ShrinksTaken(0), 0u);
  Bump(files[0], kHeartbeatShrinksOffset);
  Bump(files[0], kHeartbeatShrinksOffset);
  EXPECT_EQ(watch_->ShrinksTaken(0), 2u);
  EXPECT_EQ(watch_->ShrinksTaken(1), std::nullopt);  // no such worker
  watch_->EndAttempt();
}

}  // namespace
}  // namespace fabric::launcher
