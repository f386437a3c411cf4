// Real clients: unmodified PyTorch scripts run by .venv/bin/python (torch 2.11) under fabric-run.
// (import torch takes ~1 s per process on a small machine: generous timeouts.) Each test
// runs twice: workers spawned, and forked by a --preload torch zygote (FABRIC_PRELOAD).
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fabric_run_harness.h"

namespace fabric::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The parameter: FABRIC_PRELOAD ("": off).
class PythonClientTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::map<std::string, std::string> Env(std::map<std::string, std::string> env = {}) const {
    if (!GetParam().empty()) env["FABRIC_PRELOAD"] = GetParam();
    return env;
  }
};

TEST_P(PythonClientTest, GlooAllReduceOfFourRanksSumsToSix) {
  const std::string python = VenvPython();
  ASSERT_FALSE(python.empty()) << "no .venv/bin/python: run tools/setup.sh";
  FabricRun run({"--devices", "4", "--python", python, Runfile("tests/python/allreduce.py")},
                Env());
  ASSERT_EQ(run.Wait(absl::Seconds(600)), 0) << run.out() << run.err();
  EXPECT_THAT(run.err(), Not(HasSubstr("spawning Python workers normally")));
  for (int r = 0; r < 4; ++r) {
    EXPECT_THAT(run.out(), HasSubstr("[rank " + std::to_string(r) + "]: rank " + std::to_string(r) +
                                     "/4 local_rank " + std::to_string(r) + " sum 6"))
        << run.out() << run.err();
  }
}

TEST_P(PythonClientTest, TorchRecordErrorFileReachesTheFailureReport) {
  const std::string python = VenvPython();
  ASSERT_FALSE(python.empty()) << "no .venv/bin/python: run tools/setup.sh";
  std::string dir = NewTempDir("record");
  FabricRun run({"--devices", "2", "--python", python, Runfile("tests/python/record_failure.py")},
                Env({{"RANK0_DONE", dir + "/rank0_done"}}));
  ASSERT_EQ(run.Wait(absl::Seconds(600)), 1) << run.out() << run.err();
  EXPECT_THAT(run.out(), HasSubstr("[rank 0]: rank 0 fine"));
  EXPECT_THAT(run.err(), HasSubstr("root cause: rank 1 (node 0, local rank 1"));
  EXPECT_THAT(run.err(), HasSubstr("error file: ValueError: bad batch on rank 1"));
  EXPECT_THAT(run.err(), HasSubstr("|     raise ValueError(\"bad batch on rank 1\")"));
  EXPECT_THAT(run.err(), HasSubstr("other ranks: rank 0 exit code 0"));
}

INSTANTIATE_TEST_SUITE_P(SpawnedAndPreloaded, PythonClientTest, ::testing::Values("", "torch"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           return p.param.empty() ? std::string("Spawned") : "Preload_" + p.param;
                         });

}  // namespace
}  // namespace fabric::testing
