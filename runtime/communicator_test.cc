#include "runtime/communicator.h"

#include <stdlib.h>

#include "ATen/ATen.h"
#include "common/net.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "torch/cuda.h"

namespace fabric::runtime {
namespace {

TEST(CommunicatorTest, OneRankIsLocalByDefault) {
  FABRIC_ASSERT_OK_AND_ASSIGN(auto comm, Communicator::Create({}));
  EXPECT_EQ(comm->BackendName(c10::DeviceType::CPU), "local");
  EXPECT_EQ(comm->store(), nullptr);
  at::Tensor t = at::ones({3});
  EXPECT_THAT(comm->AllReduce(t, ReduceOp::kSum), IsOk());
  EXPECT_TRUE(at::equal(t, at::ones({3})));
}

TEST(CommunicatorTest, OneRankGroupGoesThroughC10dGloo) {
  // What tools/gpu_check.sh does with NCCL on one GPU, here with Gloo on the CPU.
  CommunicatorOptions o;
  FABRIC_ASSERT_OK_AND_ASSIGN(o.master_port, PickFreePort());
  o.group_for_one_rank = true;
  o.timeout = absl::Seconds(30);
  FABRIC_ASSERT_OK_AND_ASSIGN(auto comm, Communicator::Create(o));
  EXPECT_EQ(comm->BackendName(c10::DeviceType::CPU), "gloo");
  EXPECT_NE(comm->store(), nullptr);
  at::Tensor t = at::arange(4, at::kFloat);
  EXPECT_THAT(comm->AllReduce(t, ReduceOp::kSum), IsOk());
  EXPECT_TRUE(at::equal(t, at::arange(4, at::kFloat)));
  FABRIC_ASSERT_OK_AND_ASSIGN(at::Tensor part, comm->ReduceScatter(t));
  EXPECT_TRUE(at::equal(part, t));
  FABRIC_ASSERT_OK_AND_ASSIGN(std::vector<at::Tensor> all, comm->AllGather(t));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_THAT(comm->Barrier(), IsOk());
}

TEST(CommunicatorTest, NcclWithoutAGpuIsAClearError) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "a GPU exists";
  CommunicatorOptions o;
  FABRIC_ASSERT_OK_AND_ASSIGN(o.master_port, PickFreePort());
  o.group_for_one_rank = true;
  o.cuda_device = 0;
  o.cuda_backend = "nccl";
  o.timeout = absl::Seconds(30);
  unsetenv("TORCH_NCCL_BLOCKING_WAIT");
  absl::StatusOr<std::unique_ptr<Communicator>> comm = Communicator::Create(o);
  EXPECT_FALSE(comm.ok());
  EXPECT_THAT(comm.status().message(), ::testing::HasSubstr("NCCL"));
  // Blocking wait would turn off torch's NCCL watchdog (issue 29): the runtime leaves
  // the variable as the user set it.
  EXPECT_EQ(getenv("TORCH_NCCL_BLOCKING_WAIT"), nullptr);
}

}  // namespace
}  // namespace fabric::runtime
