// Real clients across nodes: unmodified PyTorch scripts (Gloo over env://) under two
// fabric-run agents of 2 workers each on loopback (one job of 4 ranks). Each test runs
// twice: workers spawned, and forked by each node's --preload torch zygote.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fabric_run_harness.h"

namespace fabric::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kFallback[] = "spawning Python workers normally";  // --preload gave up

// The parameter: --preload's modules ("": off).
class MultiNodePythonTest : public ::testing::TestWithParam<std::string> {};

std::vector<std::string> Args(int port, int node_rank, const std::string& script) {
  std::vector<std::string> args = {"--devices",    "2",
                                   "--num-nodes",  "2",
                                   "--node-rank",  std::to_string(node_rank),
                                   "--main-port",  std::to_string(port),
                                   "--python",     VenvPython(),
                                   Runfile(script)};
  const std::string preload = MultiNodePythonTest::GetParam();
  if (!preload.empty()) args.insert(args.begin(), {"--preload", preload});
  return args;
}

TEST_P(MultiNodePythonTest, GlooAllReduceAcrossTwoAgents) {
  ASSERT_FALSE(VenvPython().empty()) << "no .venv/bin/python: run tools/setup.sh";
  const int port = FreePort();
  FabricRun a(Args(port, 0, "tests/python/allreduce.py"));
  FabricRun b(Args(port, 1, "tests/python/allreduce.py"));
  ASSERT_EQ(a.Wait(absl::Seconds(600)), 0) << a.out() << a.err();
  ASSERT_EQ(b.Wait(absl::Seconds(600)), 0) << b.out() << b.err();
  for (FabricRun* n : {&a, &b}) EXPECT_THAT(n->err(), Not(HasSubstr(kFallback)));
  for (int r = 0; r < 4; ++r) {
    FabricRun& n = r < 2 ? a : b;
    EXPECT_THAT(n.out(), HasSubstr(absl::StrCat("[node ", r / 2, " rank ", r, "]: rank ", r,
                                                "/4 local_rank ", r % 2, " sum 6")))
        << n.out();
  }
}

TEST_P(MultiNodePythonTest, DistributedDataParallelTrainingMatchesFullBatchReference) {
  ASSERT_FALSE(VenvPython().empty()) << "no .venv/bin/python: run tools/setup.sh";
  const int port = FreePort();
  FabricRun a(Args(port, 0, "tests/python/ddp_train.py"));
  FabricRun b(Args(port, 1, "tests/python/ddp_train.py"));
  ASSERT_EQ(a.Wait(absl::Seconds(600)), 0) << a.out() << a.err();
  ASSERT_EQ(b.Wait(absl::Seconds(600)), 0) << b.out() << b.err();
  for (FabricRun* n : {&a, &b}) EXPECT_THAT(n->err(), Not(HasSubstr(kFallback)));
  std::string checksum;
  for (int r = 0; r < 4; ++r) {
    FabricRun& n = r < 2 ? a : b;
    const std::string prefix = absl::StrCat("[node ", r / 2, " rank ", r, "]: ddp rank ", r,
                                            "/4 group ", r / 2, " match True checksum ");
    size_t at = n.out().find(prefix);
    ASSERT_NE(at, std::string::npos) << n.out();
    std::string sum = n.out().substr(at + prefix.size(),
                                     n.out().find(' ', at + prefix.size()) - (at + prefix.size()));
    if (checksum.empty()) checksum = sum;
    EXPECT_EQ(sum, checksum) << "rank " << r << " ended with different weights";
  }
}

INSTANTIATE_TEST_SUITE_P(SpawnedAndPreloaded, MultiNodePythonTest, ::testing::Values("", "torch"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           return p.param.empty() ? std::string("Spawned") : "Preload_" + p.param;
                         });

}  // namespace
}  // namespace fabric::testing
