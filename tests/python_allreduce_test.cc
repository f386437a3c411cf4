// An unmodified PyTorch script (init_process_group("gloo", init_method="env://"))
// run by /usr/bin/python3 under fabric-run --devices 4 all-reduces its rank.
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fabric_run_harness.h"

namespace fabric::testing {
namespace {

using ::testing::HasSubstr;

TEST(PythonAllReduceTest, FourRanksSumTheirRanks) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3";
  FabricRun run({"--devices", "4", "--python", "/usr/bin/python3", Runfile("tests/python/allreduce.py")});
  ASSERT_EQ(run.Wait(absl::Seconds(600)), 0) << run.out() << run.err();
  for (int r = 0; r < 4; ++r) {
    EXPECT_THAT(run.out(), HasSubstr("[rank " + std::to_string(r) + "]: rank " + std::to_string(r) +
                                     "/4 local_rank " + std::to_string(r) + " sum 6"))
        << run.out() << run.err();
  }
}

}  // namespace
}  // namespace fabric::testing
