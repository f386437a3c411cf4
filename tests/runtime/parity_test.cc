// Numerics against torch 2.11's own Python DDP and FSDP2 (`fully_shard`): the same model,
// initial weights (written by the Python side, loaded by Fabric::Load), batches and
// optimizer on 2 ranks; the C++ runtime's parameters after 4 steps must equal torch's
// within 1e-5. The Python side runs on .venv's torch (FABRIC_VENV_PYTHON).
#include <cstdlib>
#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/runtime/spawn.h"

namespace fabric::testing {
namespace {

std::string Runfile(const std::string& path) {
  const char* src = getenv("TEST_SRCDIR");
  const char* ws = getenv("TEST_WORKSPACE");
  return src != nullptr && ws != nullptr ? std::string(src) + "/" + ws + "/" + path : path;
}

// Runs torch's own `torch_mode` for 4 steps into a fresh directory; returns it.
std::string RunTorch(const std::string& torch_mode) {
  const char* python = getenv("FABRIC_VENV_PYTHON");
  EXPECT_NE(python, nullptr) << "FABRIC_VENV_PYTHON unset: run tools/setup.sh";
  if (python == nullptr) return "";
  static int n = 0;
  const std::string dir =
      std::string(getenv("TEST_TMPDIR")) + "/" + torch_mode + std::to_string(n++);
  EXPECT_EQ(system(("mkdir -p " + dir).c_str()), 0);
  JobSpec reference{python,
                    {Runfile("tests/runtime/torch_reference.py"), "--mode", torch_mode, "--out",
                     dir, "--steps", "4"},
                    2};
  absl::StatusOr<std::vector<RankResult>> ref = RunRanks(reference);
  EXPECT_TRUE(ref.ok()) << ref.status();
  if (ref.ok()) {
    for (const auto& r : *ref) EXPECT_EQ(r.exit_code, 0) << Describe(*ref);
  }
  return dir;
}

std::vector<RankResult> RunOurs(const std::string& dir, const std::string& torch_mode,
                                const std::string& strategy, int steps) {
  JobSpec ours{WorkerBinary(),
               {"parity", "strategy=" + strategy, "init=" + dir + "/init.ckpt",
                "ref=" + dir + "/final_" + torch_mode + ".ckpt", "steps=" + std::to_string(steps),
                "units=Linear"},
               2};
  absl::StatusOr<std::vector<RankResult>> results = RunRanks(ours);
  EXPECT_TRUE(results.ok()) << results.status();
  return results.ok() ? *results : std::vector<RankResult>{};
}

class ParityTest : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(ParityTest, RuntimeMatchesTorchsOwn) {
  const auto& [torch_mode, strategy] = GetParam();
  const std::string dir = RunTorch(torch_mode);
  std::vector<RankResult> results = RunOurs(dir, torch_mode, strategy, 4);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    EXPECT_EQ(r.exit_code, 0) << Describe(results);
    EXPECT_THAT(LinesWithPrefix(r.output, "PARITY "),
                ::testing::ElementsAre(::testing::HasSubstr("tensors=5")))
        << Describe(results);
  }
}

// Negative control: one step fewer than torch ran must not pass for equal.
TEST(ParityControlTest, ADifferentRunDiffers) {
  const std::string dir = RunTorch("ddp");
  std::vector<RankResult> results = RunOurs(dir, "ddp", "ddp", 3);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    EXPECT_NE(r.exit_code, 0) << Describe(results);
    EXPECT_THAT(r.output, ::testing::HasSubstr("differs from torch's own"));
  }
}

INSTANTIATE_TEST_SUITE_P(TorchDdpAndFsdp2, ParityTest,
                         ::testing::Values(std::make_pair("ddp", "ddp"),
                                           std::make_pair("fsdp2", "fsdp")));

}  // namespace
}  // namespace fabric::testing
