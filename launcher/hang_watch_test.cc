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

// What a worker does to report progress: word 3 (1 + step) and word 4 (total).
void Report(const std::string& file, uint64_t step, uint64_t total) {
  const int fd = open(file.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << file;
  const uint64_t step_word = EncodeStepWord(step);
  ASSERT_EQ(pwrite(fd, &step_word, 8, kHeartbeatStepOffset), 8);
  ASSERT_EQ(pwrite(fd, &total, 8, kHeartbeatTotalOffset), 8);
  close(fd);
}

TEST_F(HangWatchTest, ProgressIsEmptyOutsideAnAttempt) {
  EXPECT_TRUE(watch_->AllProgress().empty());
  EXPECT_EQ(watch_->Progress(0), std::nullopt);
  Start(2);
  EXPECT_EQ(watch_->AllProgress().size(), 2u);
  EXPECT_EQ(watch_->Progress(2), std::nullopt);
  EXPECT_EQ(watch_->Progress(-1), std::nullopt);
  watch_->EndAttempt();
  EXPECT_TRUE(watch_->AllProgress().empty());
  EXPECT_EQ(watch_->Progress(0), std::nullopt);
}

TEST_F(HangWatchTest, ProgressBeforeAnyBeatHasThePidAndNothingReported) {
  Start(2);
  watch_->SampleProgress();
  std::optional<RankProgress> p = watch_->Progress(1);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->local_rank, 1);
  EXPECT_EQ(p->global_rank, 11);
  EXPECT_EQ(p->pid, 1001);
  EXPECT_TRUE(p->heartbeat_file);
  EXPECT_EQ(p->beats, 0u);
  EXPECT_EQ(p->last_beat_change, std::nullopt);
  EXPECT_EQ(p->step, std::nullopt);
  EXPECT_EQ(p->total, std::nullopt);
  EXPECT_EQ(p->steps_per_second, std::nullopt);
  EXPECT_EQ(p->eta, std::nullopt);
  watch_->EndAttempt();
}

TEST_F(HangWatchTest, ProgressFollowsTheSamplesOnTheAgentsClock) {
  std::vector<std::string> files = Start(1);
  const absl::Time t0 = clock_.TimeNow();
  Bump(files[0], kHeartbeatBeatsOffset);
  Report(files[0], 5, 100);
  // Not sampled yet: the accessor answers as of the last sample.
  EXPECT_EQ(watch_->Progress(0)->beats, 0u);
  clock_.AdvanceTime(absl::Seconds(1));
  watch_->SampleProgress();
  std::optional<RankProgress> p = watch_->Progress(0);
  EXPECT_EQ(p->beats, 1u);
  EXPECT_EQ(p->last_beat_change, t0 + absl::Seconds(1));
  EXPECT_EQ(p->step, 5u);
  EXPECT_EQ(p->total, 100u);
  EXPECT_EQ(p->steps_per_second, std::nullopt);  // one sample: no rate yet
  Bump(files[0], kHeartbeatBeatsOffset);
  Report(files[0], 7, 100);
  clock_.AdvanceTime(absl::Seconds(1));
  watch_->SampleProgress();
  p = watch_->Progress(0);
  EXPECT_EQ(p->beats, 2u);
  EXPECT_EQ(p->last_beat_change, t0 + absl::Seconds(2));
  ASSERT_TRUE(p->steps_per_second.has_value());
  EXPECT_DOUBLE_EQ(*p->steps_per_second, 2.0);
  EXPECT_EQ(p->eta, absl::Seconds(46.5));  // 93 steps left at 2/s
  // No beat since: the change time stays where the agent saw it.
  clock_.AdvanceTime(absl::Seconds(3));
  watch_->OnTimer();  // OnTimer samples progress too
  p = watch_->Progress(0);
  EXPECT_EQ(p->last_beat_change, t0 + absl::Seconds(2));
  EXPECT_LT(*p->steps_per_second, 2.0);  // the step did not move for 3 s
  watch_->EndAttempt();
}

TEST_F(HangWatchTest, ARankWithoutAFileHasNoHeartbeatProgress) {
  const std::string file = HangWatch::BeatFile(dir_, 0, 0);
  ASSERT_TRUE(watch_->AddBeatFile(0, file).ok());
  watch_->StartAttempt({1000, 1001}, {0, 1});
  Bump(file, kHeartbeatBeatsOffset);
  watch_->SampleProgress();
  EXPECT_TRUE(watch_->Progress(0)->heartbeat_file);
  EXPECT_EQ(watch_->Progress(0)->beats, 1u);
  EXPECT_FALSE(watch_->Progress(1)->heartbeat_file);
  EXPECT_EQ(watch_->Progress(1)->pid, 1001);
  EXPECT_EQ(watch_->Progress(1)->last_beat_change, std::nullopt);
  watch_->EndAttempt();
}

TEST_F(HangWatchTest, AReplacedWorkersPidShowsInItsProgress) {
  Start(2);
  watch_->OnWorkerReplaced(1, 2001);
  EXPECT_EQ(watch_->Progress(1)->pid, 2001);
  EXPECT_EQ(watch_->Progress(0)->pid, 1000);
  watch_->EndAttempt();
}

TEST_F(HangWatchTest, SamplingProgressDoesNotKeepAStalledWorkerAlive) {
  std::vector<std::string> files = Start(1);
  Bump(files[0], kHeartbeatBeatsOffset);
  watch_->OnTimer();
  for (int i = 0; i < 22; ++i) {
    clock_.AdvanceTime(absl::Milliseconds(500));
    watch_->SampleProgress();
  }
  EXPECT_TRUE(launcher_.process_signals().empty());  // only OnTimer signals
  watch_->OnTimer();
  ASSERT_EQ(launcher_.process_signals().size(), 1u);  // hung: 11 s without a beat
  EXPECT_EQ(launcher_.process_signals()[0].sig, SIGABRT);
  watch_->EndAttempt();
}

// With no hang timeout the files are still sampled at least once a second while an attempt
// runs (the timer is due a second after the last sample), so a heartbeat age is right to
// within a second; between attempts nothing is scheduled (an idle agent wakes for nothing).
TEST(HangWatchSamplingTest, WithoutAHangTimeoutTheFilesAreSampledEverySecond) {
  char tmpl[] = "/tmp/hang_watch_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  FakeClock clock;
  FakeProcessLauncher launcher;
  auto w =
      HangWatch::Create(dir, absl::ZeroDuration(), &clock, &launcher, [](const std::string&) {});
  ASSERT_TRUE(w.ok()) << w.status();
  HangWatch& watch = **w;
  EXPECT_EQ(watch.NextDeadline(), std::nullopt) << "no attempt: nothing to sample";
  const std::string file = HangWatch::BeatFile(dir, 0, 0);
  ASSERT_TRUE(watch.AddBeatFile(0, file).ok());
  watch.StartAttempt({1000}, {0});
  ASSERT_TRUE(watch.NextDeadline().has_value());
  EXPECT_LE(*watch.NextDeadline(), clock.TimeNow()) << "the first sample is due at once";
  watch.OnTimer();
  const absl::Time t0 = clock.TimeNow();
  EXPECT_EQ(watch.NextDeadline(), t0 + HangWatch::kProgressSampleInterval);
  const int fd = open(file.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const uint64_t one = 1;
  ASSERT_EQ(pwrite(fd, &one, 8, kHeartbeatBeatsOffset), 8);
  close(fd);
  EXPECT_EQ(watch.Progress(0)->beats, 0u);
  clock.AdvanceTime(absl::Seconds(1));
  ASSERT_LE(*watch.NextDeadline(), clock.TimeNow());
  watch.OnTimer();
  EXPECT_EQ(watch.Progress(0)->beats, 1u);
  EXPECT_EQ(watch.Progress(0)->last_beat_change, t0 + absl::Seconds(1));
  EXPECT_EQ(watch.NextDeadline(), t0 + absl::Seconds(2));
  watch.EndAttempt();
  EXPECT_EQ(watch.NextDeadline(), std::nullopt);
  w->reset();
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace fabric::launcher
