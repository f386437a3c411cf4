// Save on 4 ranks, resume on 2 and on 1: the next steps' losses equal those of the
// uninterrupted run; a crash in the middle of a save keeps the previous checkpoint.
#include <dirent.h>

#include <cstdlib>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/runtime/spawn.h"

namespace fabric::testing {
namespace {

std::string TmpDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  std::string tmpl = std::string(t ? t : "/tmp") + "/ckpt_XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  return mkdtemp(buf.data());
}

// "LOSS <step> <value>" lines of rank 0.
std::map<int, double> Losses(const RankResult& r) {
  std::map<int, double> out;
  for (const auto& line : LinesWithPrefix(r.output, "LOSS ")) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    int step = 0;
    double v = 0;
    if (parts.size() == 2 && absl::SimpleAtoi(parts[0], &step) && absl::SimpleAtod(parts[1], &v)) {
      out[step] = v;
    }
  }
  return out;
}

std::vector<RankResult> Run(int world, std::vector<std::string> args) {
  args.insert(args.begin(), "train");
  auto results = RunRanks(JobSpec{WorkerBinary(), args, world});
  EXPECT_TRUE(results.ok()) << results.status();
  if (!results.ok()) return {};
  for (const auto& r : *results) EXPECT_EQ(r.exit_code, 0) << Describe(*results);
  return *results;
}

void SaveOnFourResumeOn(const std::string& save_strategy, const std::string& load_strategy,
                        int resume_world, bool sharded = false) {
  std::string path = TmpDir() + (sharded ? "/sharded" : "/last.ckpt");
  auto full = Run(4, {"strategy=" + save_strategy, "steps=5", "save_at=3", "save=" + path,
                      sharded ? "sharded=1" : "sharded=0", "units=Linear"});
  ASSERT_FALSE(full.empty());
  auto resumed =
      Run(resume_world, {"strategy=" + load_strategy, "steps=5", "resume=" + path, "units=Linear"});
  ASSERT_FALSE(resumed.empty());
  EXPECT_THAT(resumed[0].output, ::testing::HasSubstr("RESUMED 3"));
  auto a = Losses(full[0]), b = Losses(resumed[0]);
  ASSERT_EQ(a.size(), 5u) << Describe(full);
  ASSERT_EQ(b.size(), 2u) << Describe(resumed);
  for (int step : {3, 4}) {
    EXPECT_NEAR(a[step], b[step], 1e-6 * std::max(1.0, std::abs(a[step]))) << "step " << step;
  }
  // The RNG state travels with the checkpoint.
  EXPECT_EQ(LinesWithPrefix(full[0].output, "RNG "), LinesWithPrefix(resumed[0].output, "RNG "));
}

TEST(CheckpointTest, DdpSavedOnFourResumesOnTwo) { SaveOnFourResumeOn("ddp", "ddp", 2); }
TEST(CheckpointTest, DdpSavedOnFourResumesOnOne) { SaveOnFourResumeOn("ddp", "single", 1); }
TEST(CheckpointTest, FsdpSavedOnFourResumesOnTwo) { SaveOnFourResumeOn("fsdp", "fsdp", 2); }
TEST(CheckpointTest, FsdpSavedOnFourResumesOnOneWithDdp) { SaveOnFourResumeOn("fsdp", "ddp", 1); }

// Sharded: each of the 4 FSDP ranks writes only its shards (no gathering); the files
// reassemble on 2 FSDP ranks, on 1, and into DDP.
TEST(CheckpointTest, FsdpShardedSavedOnFourResumesOnTwo) {
  SaveOnFourResumeOn("fsdp", "fsdp", 2, /*sharded=*/true);
}
TEST(CheckpointTest, FsdpShardedSavedOnFourResumesOnOne) {
  SaveOnFourResumeOn("fsdp", "fsdp", 1, /*sharded=*/true);
}
TEST(CheckpointTest, FsdpShardedSavedOnFourResumesOnTwoWithDdp) {
  SaveOnFourResumeOn("fsdp", "ddp", 2, /*sharded=*/true);
}
TEST(CheckpointTest, DdpShardedSavedOnFourResumesOnTwoWithFsdp) {
  SaveOnFourResumeOn("ddp", "fsdp", 2, /*sharded=*/true);
}

TEST(CheckpointTest, CrashMidSaveKeepsTheLastGoodCheckpoint) {
  std::string dir = TmpDir();
  std::string path = dir + "/last.ckpt";
  auto crashed =
      RunRanks(JobSpec{WorkerBinary(), {"crash_save", "path=" + path}, 2, {}, absl::Seconds(120)});
  ASSERT_TRUE(crashed.ok()) << crashed.status();
  // Rank 0 died inside the second save; rank 1 notices its peer is gone and fails.
  EXPECT_EQ((*crashed)[0].exit_code, 42) << Describe(*crashed);
  EXPECT_THAT((*crashed)[0].output, ::testing::HasSubstr("SAVED 1"));
  EXPECT_THAT((*crashed)[0].output, ::testing::HasSubstr("CRASHING"));
  EXPECT_NE((*crashed)[1].exit_code, 0) << Describe(*crashed);
  // The half-written temporary is there (proof the crash hit mid-write) ...
  bool temp_found = false;
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* e = readdir(d)) {
    if (std::string(e->d_name).find(".last.ckpt.tmp-") == 0) temp_found = true;
  }
  closedir(d);
  EXPECT_TRUE(temp_found);
  // ... and the checkpoint still loads, at the step of the last good save.
  auto check = RunRanks(JobSpec{WorkerBinary(), {"check_ckpt", "path=" + path}, 1});
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ((*check)[0].exit_code, 0) << Describe(*check);
  EXPECT_THAT((*check)[0].output, ::testing::HasSubstr("STEP 1"));
}

TEST(CheckpointTest, LoadingAMissingCheckpointIsNotFound) {
  auto check = RunRanks(JobSpec{WorkerBinary(), {"check_ckpt", "path=" + TmpDir() + "/none"}, 1});
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ((*check)[0].exit_code, 1);
  EXPECT_THAT((*check)[0].output, ::testing::HasSubstr("NOT_FOUND"));
  EXPECT_THAT((*check)[0].output, ::testing::HasSubstr("rank 0: load checkpoint"));
}

}  // namespace
}  // namespace fabric::testing
