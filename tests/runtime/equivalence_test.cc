// DDP and FSDP on 4 ranks against one process training on the concatenated batch
// (each worker computes the reference itself and fails when any parameter differs by
// more than 1e-5), FSDP against DDP, and FSDP's memory against DDP's.
#include <cstdlib>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/runtime/spawn.h"

namespace fabric::testing {
namespace {

std::vector<RankResult> RunEquiv(const std::string& strategy, const std::string& optim, int accum,
                                 int world = 4, std::vector<std::string> extra = {}) {
  JobSpec spec{WorkerBinary(),
               {"equiv", "strategy=" + strategy, "optim=" + optim, "steps=4",
                "accum=" + std::to_string(accum)},
               world};
  spec.args.insert(spec.args.end(), extra.begin(), extra.end());
  auto results = RunRanks(spec);
  EXPECT_TRUE(results.ok()) << results.status();
  if (!results.ok()) return {};
  for (const auto& r : *results) {
    EXPECT_EQ(r.exit_code, 0) << Describe(*results);
    EXPECT_EQ(LinesWithPrefix(r.output, "MAXDIFF").size(), 1u) << Describe(*results);
    // A full state gathered on rank 0 only: rank 0 has all of it, the others nothing.
    auto z = LinesWithPrefix(r.output, "RANK0_ONLY ");
    EXPECT_EQ(z.size(), 1u) << Describe(*results);
    if (z.size() != 1) continue;
    EXPECT_THAT(z[0], ::testing::HasSubstr("same=1")) << z[0];
    if (r.rank != 0) EXPECT_THAT(z[0], ::testing::HasSubstr("entries=0 ")) << z[0];
    if (r.rank == 0) EXPECT_THAT(z[0], ::testing::Not(::testing::HasSubstr("entries=0 "))) << z[0];
  }
  return *results;
}

std::vector<double> Params(const std::vector<RankResult>& results) {
  std::vector<double> out;
  if (results.empty()) return out;
  auto lines = LinesWithPrefix(results[0].output, "PARAMS ");
  if (lines.size() != 1) return out;
  for (auto tok : absl::StrSplit(lines[0], ' ', absl::SkipEmpty())) {
    double v = 0;
    if (absl::SimpleAtod(tok, &v)) out.push_back(v);
  }
  return out;
}

int64_t TotalBytes(const RankResult& r) {
  auto lines = LinesWithPrefix(r.output, "MEMORY ");
  if (lines.size() != 1) return -1;
  auto pos = lines[0].find("total=");
  int64_t v = -1;
  absl::SimpleAtoi(lines[0].substr(pos + 6), &v);
  return v;
}

TEST(EquivalenceTest, DdpSgdMatchesOneProcess) { RunEquiv("ddp", "sgd", 1); }
TEST(EquivalenceTest, DdpAdamMatchesOneProcess) { RunEquiv("ddp", "adam", 1); }
TEST(EquivalenceTest, DdpGradientAccumulationWithNoSyncMatches) { RunEquiv("ddp", "adam", 2); }
TEST(EquivalenceTest, FsdpSgdMatchesOneProcess) { RunEquiv("fsdp", "sgd", 1); }
TEST(EquivalenceTest, FsdpAccumulationMatchesOnThreeRanksWithPadding) {
  // 212 parameters over 3 ranks: shards of 71, the last one padded by 1.
  RunEquiv("fsdp", "adam", 2, /*world=*/3);
}

TEST(EquivalenceTest, FsdpWithAUnitPerLayerMatchesOneProcess) {
  // fc1 and fc2 (both Linear) become units of their own, reduce-scattered from backward
  // hooks as their gradients complete; with accumulation and on 3 ranks (padding).
  auto tensors = [](const std::vector<RankResult>& results) {
    return results.empty() ? std::vector<std::string>{}
                           : LinesWithPrefix(results[0].output, "OPTIM_TENSORS ");
  };
  EXPECT_THAT(tensors(RunEquiv("fsdp", "adam", 1, 4, {"units=Linear"})),
              ::testing::ElementsAre("2"));  // one flat shard per unit
  EXPECT_THAT(tensors(RunEquiv("fsdp", "sgd", 2, 3, {"units=Linear"})),
              ::testing::ElementsAre("2"));
  // By size: fc1 (144 parameters) is a unit, fc2 (68) stays in the root unit.
  EXPECT_THAT(tensors(RunEquiv("fsdp", "adam", 1, 2, {"unit_min_params=100"})),
              ::testing::ElementsAre("2"));
  // Negative control: no policy, one unit.
  EXPECT_THAT(tensors(RunEquiv("fsdp", "adam", 1, 2)), ::testing::ElementsAre("1"));
}

// A "key=N" field of the rank's AFTER_FORWARD line; -1 when absent.
int64_t AfterForward(const RankResult& r, const std::string& key) {
  auto lines = LinesWithPrefix(r.output, "AFTER_FORWARD ");
  if (lines.size() != 1) return -1;
  const size_t pos = lines[0].find(key + "=");
  if (pos == std::string::npos) return -1;
  int64_t v = -1;
  std::string rest = lines[0].substr(pos + key.size() + 1);
  absl::SimpleAtoi(rest.substr(0, rest.find(' ')), &v);
  return v;
}
int64_t ParamsAfterForward(const RankResult& r) { return AfterForward(r, "params"); }

// Units gathered just in time (RunUnit, runtime/fsdp_unit.h): the same numerics, with
// accumulation and padding, and after the forward no unit's full parameters are held
// (each was freed after its own forward and is gathered again by its backward). Negative
// control: the same model without RunUnit holds every unit's full parameters then.
TEST(EquivalenceTest, FsdpUnitsGatheredJustInTimeMatchOneProcessAndAreFreedAfterForward) {
  for (int world : {2, 3}) {
    auto jit = RunEquiv("fsdp", "adam", world == 3 ? 2 : 1, world, {"units=Linear", "jit=1"});
    auto plain = RunEquiv("fsdp", "adam", world == 3 ? 2 : 1, world, {"units=Linear"});
    ASSERT_EQ(jit.size(), static_cast<size_t>(world));
    ASSERT_EQ(plain.size(), static_cast<size_t>(world));
    for (int r = 0; r < world; ++r) {
      // Only the shards are held after a just-in-time forward; without RunUnit the full
      // parameters too (8*16+16 + 16*4+4 = 212 floats, and padding).
      const int64_t j = ParamsAfterForward(jit[r]), p = ParamsAfterForward(plain[r]);
      ASSERT_GT(j, 0) << Describe(jit);
      EXPECT_GE(p - j, 212 * 4) << "rank " << r << ": jit " << j << " bytes, plain " << p;
    }
    EXPECT_EQ(Params(jit), Params(plain)) << Describe(jit);
  }
}

// Activation checkpointing by policy (checkpoint=Linear): the same numerics as without,
// and each unit's forward runs twice per step (the recomputation in backward); negative
// control: without the policy it runs once.
TEST(EquivalenceTest, FsdpCheckpointedUnitsRecomputeInBackwardAndMatchOneProcess) {
  auto ckpt = RunEquiv("fsdp", "adam", 2, 2,
                       {"units=Linear", "jit=1", "checkpoint=Linear", "just_in_time=1"});
  auto jit = RunEquiv("fsdp", "adam", 2, 2, {"units=Linear", "jit=1"});
  ASSERT_EQ(ckpt.size(), 2u);
  ASSERT_EQ(jit.size(), 2u);
  for (int r = 0; r < 2; ++r) {
    const int64_t once = AfterForward(jit[r], "unit_calls");
    EXPECT_EQ(once, 2 * 4 * 2) << Describe(jit);  // 2 units x 4 steps x 2 micro-batches
    EXPECT_EQ(AfterForward(ckpt[r], "unit_calls"), 2 * once) << Describe(ckpt);
    EXPECT_EQ(ParamsAfterForward(ckpt[r]), ParamsAfterForward(jit[r])) << Describe(ckpt);
  }
  EXPECT_EQ(Params(ckpt), Params(jit)) << Describe(ckpt);
}

// Lightning's "fsdp_cpu_offload" strategy: FSDP with the shards, gradients and optimizer
// on the host. On the CPU that is where they are anyway, so this checks that the name
// selects FSDP (one flat shard per unit, the same numerics bit for bit) and that the
// optimizer's tensors are on the CPU; on a GPU (tools/gpu_check.sh) the same scenario
// shows them on the CPU while the model computes on cuda:0.
TEST(EquivalenceTest, FsdpCpuOffloadIsFsdpWithTheOptimizerOnTheCpu) {
  auto offload = RunEquiv("fsdp_cpu_offload", "adam", 2, 3, {"units=Linear", "jit=1"});
  auto plain = RunEquiv("fsdp", "adam", 2, 3, {"units=Linear", "jit=1"});
  ASSERT_EQ(offload.size(), 3u);
  for (const auto& r : offload) {
    EXPECT_THAT(LinesWithPrefix(r.output, "OPTIM_TENSORS "), ::testing::ElementsAre("2"));
    EXPECT_THAT(LinesWithPrefix(r.output, "PLACEMENT "),
                ::testing::ElementsAre(::testing::HasSubstr("params=cpu grads=cpu")));
  }
  EXPECT_EQ(Params(offload), Params(plain)) << Describe(offload);
}

// fsdp_just_in_time promises that every unit runs through RunUnit, so none is gathered
// before forward: a model that breaks the promise fails in its forward, on every rank,
// instead of silently computing with empty parameters.
TEST(EquivalenceTest, FsdpJustInTimeWithoutRunUnitFailsTheForward) {
  JobSpec spec{WorkerBinary(),
               {"equiv", "strategy=fsdp", "optim=adam", "steps=1", "accum=1", "units=Linear",
                "just_in_time=1"},
               2};
  auto results = RunRanks(spec);
  ASSERT_TRUE(results.ok()) << results.status();
  for (const auto& r : *results) {
    EXPECT_NE(r.exit_code, 0) << Describe(*results);
    EXPECT_THAT(r.output, ::testing::HasSubstr("forward")) << Describe(*results);
  }
}

TEST(EquivalenceTest, FsdpMatchesDdpAndHoldsAQuarterOfTheMemory) {
  auto ddp = RunEquiv("ddp", "adam", 1);
  auto fsdp = RunEquiv("fsdp", "adam", 1);
  ASSERT_EQ(ddp.size(), 4u);
  ASSERT_EQ(fsdp.size(), 4u);
  std::vector<double> a = Params(ddp), b = Params(fsdp);
  ASSERT_EQ(a.size(), 8u) << Describe(ddp);
  ASSERT_EQ(b.size(), 8u) << Describe(fsdp);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5) << "param " << i;
  for (int r = 0; r < 4; ++r) {
    int64_t d = TotalBytes(ddp[r]), f = TotalBytes(fsdp[r]);
    ASSERT_GT(d, 0) << Describe(ddp);
    ASSERT_GT(f, 0) << Describe(fsdp);
    std::printf("rank %d: ddp %lld bytes, fsdp %lld bytes (ratio %.3f)\n", r, (long long)d,
                (long long)f, static_cast<double>(f) / d);
    // 1/4 plus padding (at most 3 elements per tensor).
    EXPECT_LE(f, d / 4 + 3 * 4 * 4) << "rank " << r;
    EXPECT_GE(f, d / 4) << "rank " << r;
  }
}

class TwoModelsTest : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(TwoModelsTest, TwoModelsWithAFrozenLayerMatchOneProcess) {
  const auto& [strategy, world] = GetParam();
  JobSpec spec{WorkerBinary(), {"two_models", "strategy=" + strategy, "steps=3"}, world};
  FABRIC_ASSERT_OK_AND_ASSIGN(auto results, RunRanks(spec));
  for (const auto& r : results) {
    EXPECT_EQ(r.exit_code, 0) << Describe(results);
    std::vector<std::string> lines = LinesWithPrefix(r.output, "TWO ");
    ASSERT_EQ(lines.size(), 1u) << Describe(results);
    // The frozen fc1 never reaches the optimizer (DDP names each parameter; FSDP hands
    // over its flat shard of the trainable ones).
    EXPECT_THAT(lines[0], ::testing::HasSubstr(strategy == "fsdp" ? "names=_flat_param "
                                                                  : "names=fc2.weight,fc2.bias "));
  }
}

INSTANTIATE_TEST_SUITE_P(StrategiesAndWorlds, TwoModelsTest,
                         ::testing::Values(std::make_tuple("ddp", 1), std::make_tuple("ddp", 2),
                                           std::make_tuple("ddp", 4), std::make_tuple("fsdp", 2),
                                           std::make_tuple("fsdp", 4)));

std::vector<std::string> UnusedLines(const std::string& strategy) {
  JobSpec spec{WorkerBinary(), {"unused", "strategy=" + strategy}, 2};
  absl::StatusOr<std::vector<RankResult>> results = RunRanks(spec);
  EXPECT_TRUE(results.ok()) << results.status();
  std::vector<std::string> lines;
  if (!results.ok()) return lines;
  for (const auto& r : *results) {
    EXPECT_EQ(r.exit_code, 0) << Describe(*results);
    for (auto& l : LinesWithPrefix(r.output, "UNUSED ")) lines.push_back(l);
  }
  return lines;
}

TEST(UnusedParametersTest, DdpNamesAParameterWithoutGradient) {
  for (const std::string& l : UnusedLines("ddp")) {
    EXPECT_THAT(l, ::testing::HasSubstr("parameter 'unused.weight' got no gradient"));
    EXPECT_THAT(l, ::testing::HasSubstr("ddp_find_unused_parameters_true"));
  }
}

TEST(UnusedParametersTest, FindUnusedParametersTrainsAndFrozenOnesStayOut) {
  std::vector<std::string> lines = UnusedLines("ddp_find_unused_parameters_true");
  ASSERT_EQ(lines.size(), 2u);
  // used.{weight,bias} and unused.{weight,bias}; frozen.* never reach the optimizer.
  for (const std::string& l : lines) EXPECT_EQ(l, "ok trained=4");
}

// DDP's gradient sync is c10d's Reducer: inside NoBackwardSync no collective at all is
// issued (counted by c10d's own sequence number), and the synced backward issues some.
// FSDP (one unit, gathered in forward and kept for backward): no reduce-scatter inside
// the scope, the full gradients accumulate; the synced backward reduce-scatters.
class NoBackwardSyncTest : public ::testing::TestWithParam<std::string> {};

TEST_P(NoBackwardSyncTest, IssuesNoCollectiveInsideTheScope) {
  JobSpec spec{WorkerBinary(), {"count_collectives", "strategy=" + GetParam(), "accum=3"}, 2};
  FABRIC_ASSERT_OK_AND_ASSIGN(auto results, RunRanks(spec));
  for (const auto& r : results) {
    ASSERT_EQ(r.exit_code, 0) << Describe(results);
    std::vector<std::string> lines = LinesWithPrefix(r.output, "COLLECTIVES ");
    ASSERT_EQ(lines.size(), 1u) << Describe(results);
    EXPECT_THAT(lines[0], ::testing::HasSubstr("no_sync=0 "));
    // Negative control: the same counter sees the synced backward's collectives.
    EXPECT_THAT(lines[0], ::testing::Not(::testing::HasSubstr("synced=0")));
  }
}

INSTANTIATE_TEST_SUITE_P(Strategies, NoBackwardSyncTest, ::testing::Values("ddp", "fsdp"));

}  // namespace
}  // namespace fabric::testing
