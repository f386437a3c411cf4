// The rendezvous state machine driven by random request sequences (deterministic seeds,
// bounded), with its invariants checked after every call (state_driver.h lists them).
// state_fuzzer drives the same StateDriver from libFuzzer's bytes.
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rendezvous/state_driver.h"

namespace fabric::rendezvous {
namespace {

TEST(StateFuzzTest, RandomRequestSequencesKeepTheInvariants) {
  int completions = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    std::mt19937 rng(seed);
    StateDriver d([&rng] { return static_cast<uint32_t>(rng()); }, 2 + static_cast<int>(seed % 4));
    for (int i = 0; i < 400; ++i) {
      const std::string broken = d.Step();
      ASSERT_EQ(broken, "") << "step " << i;
    }
    completions += d.completions();
  }
  // Not vacuous: the sequences complete many rounds.
  EXPECT_GT(completions, 1000);
}

}  // namespace
}  // namespace fabric::rendezvous
