#include "launcher/gpu_processes.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "launcher/fake_gpu_process_query.h"

namespace fabric::launcher {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

MATCHER_P2(Holder, pid, gpu, "") { return arg.pid == pid && arg.gpu == gpu; }

TEST(StillHoldingTest, NamesOnlyTheGivenPidsWithTheirGpus) {
  EXPECT_THAT(StillHolding({{10, 11}, {}, {12, 10}}, {10, 12}),
              ElementsAre(Holder(10, 0), Holder(12, 2), Holder(10, 2)));
  EXPECT_THAT(StillHolding({{10, 11}}, {99}), IsEmpty());
  EXPECT_THAT(StillHolding({}, {10}), IsEmpty());
}

TEST(FakeGpuProcessQueryTest, AHoldLastsItsQueriesThenIsGone) {
  FakeGpuProcessQuery q(2);
  q.Hold(7, 1, 2);
  q.Hold(8, 0, FakeGpuProcessQuery::kForever);
  EXPECT_THAT(*q.PidsByDevice(), ElementsAre(ElementsAre(8), ElementsAre(7)));
  EXPECT_THAT(*q.PidsByDevice(), ElementsAre(ElementsAre(8), ElementsAre(7)));
  EXPECT_THAT(*q.PidsByDevice(), ElementsAre(ElementsAre(8), IsEmpty()));
  q.FailQueries(true);
  EXPECT_FALSE(q.PidsByDevice().ok());
  EXPECT_EQ(q.queries(), 4);
}

// This machine has no NVIDIA driver: the real query is absent (the agent skips its wait).
// Where the driver is present, it loads and answers one list per GPU.
TEST(NvmlGpuProcessQueryTest, AbsentWithoutTheDriverElseAnswers) {
  std::unique_ptr<GpuProcessQuery> q = LoadNvmlGpuProcessQuery();
  if (q == nullptr) GTEST_SKIP() << "no libnvidia-ml.so.1 or no GPU here";
  EXPECT_TRUE(q->PidsByDevice().ok());
}

}  // namespace
}  // namespace fabric::launcher
