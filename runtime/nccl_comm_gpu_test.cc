// Needs a GPU (tags gpu, manual). Without one every test is skipped with the reason.
#include <cuda_runtime_api.h>

#include <map>
#include <vector>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/nccl_comm.h"

namespace fabric::runtime {
namespace {

TEST(NcclGpuTest, SingleRankAllReduceAndAllGatherOnDevice) {
  int devices = CudaDeviceCount();
  if (devices == 0) {
    GTEST_SKIP() << "no CUDA device: cudaGetDeviceCount reports 0 (NCCL "
                 << NcclVersionString() << " linked; communicator init needs a GPU)";
  }
  std::map<std::string, std::string> m;
  KeyValueStore store;
  store.set = [&m](const std::string& k, const std::string& v) {
    m[k] = v;
    return absl::OkStatus();
  };
  store.get = [&m](const std::string& k, absl::Duration) -> absl::StatusOr<std::string> {
    return m.at(k);
  };
  FABRIC_ASSERT_OK_AND_ASSIGN(auto comm, NcclComm::Create(store, 0, 1, 0, absl::Seconds(30)));
  std::vector<float> host = {1, 2, 3, 4};
  float* dev = nullptr;
  ASSERT_EQ(cudaMalloc(&dev, 4 * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dev, host.data(), 16, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_THAT(comm->AllReduce(dev, 4, ncclFloat32, ncclSum, nullptr), IsOk());
  float* gathered = nullptr;
  ASSERT_EQ(cudaMalloc(&gathered, 4 * sizeof(float)), cudaSuccess);
  ASSERT_THAT(comm->AllGather(dev, gathered, 4, ncclFloat32, nullptr), IsOk());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<float> back(4);
  ASSERT_EQ(cudaMemcpy(back.data(), gathered, 16, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(back, host);  // one rank: the sum and the gather are the input
  cudaFree(dev);
  cudaFree(gathered);
}

}  // namespace
}  // namespace fabric::runtime
