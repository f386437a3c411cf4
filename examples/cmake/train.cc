// A tiny trainer built with CMake against the installed FabricRuntime package, outside
// Bazel (doc/cmake.md): a two-layer MLP fits a fixed random linear map on synthetic data
// through fabric::runtime::Fabric, for a few steps.
//
//   ./train                          # one process
//   fabric-run --devices 2 ./train   # DDP over Gloo
//
// Takes no arguments. Rank 0 prints `step <n> loss <mean over ranks>` for every step, then
// `done`. Exit status 0 on success, 1 (with the error on stderr) otherwise.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "runtime/fabric.h"
#include "torch/torch.h"

namespace {

using fabric::runtime::Fabric;
using fabric::runtime::FabricOptions;
using fabric::runtime::ReduceOp;

constexpr int64_t kIn = 8;
constexpr int64_t kHidden = 32;
constexpr int64_t kBatch = 32;
constexpr int kSteps = 30;

struct MlpImpl : torch::nn::Module {
  MlpImpl() {
    fc1 = register_module("fc1", torch::nn::Linear(kIn, kHidden));
    fc2 = register_module("fc2", torch::nn::Linear(kHidden, 1));
  }
  at::Tensor forward(const at::Tensor& x) { return fc2(torch::relu(fc1(x))); }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Mlp);

// The batch of `rank` at `step`: inputs from N(0, 1), targets x . w for a fixed w that
// every rank shares. Deterministic in (step, rank).
void MakeBatch(int step, int rank, std::vector<float>* x, std::vector<float>* y) {
  std::mt19937 weights_rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> w(kIn);
  for (float& v : w) v = normal(weights_rng);
  std::mt19937 rng(static_cast<uint32_t>(step * 1000 + rank));
  x->resize(kBatch * kIn);
  y->assign(kBatch, 0.0f);
  for (int64_t i = 0; i < kBatch; ++i) {
    for (int64_t j = 0; j < kIn; ++j) {
      const float v = normal(rng);
      (*x)[i * kIn + j] = v;
      (*y)[i] += v * w[j];
    }
  }
}

absl::Status Train() {
  FABRIC_ASSIGN_OR_RETURN(std::unique_ptr<Fabric> fabric, Fabric::Create(FabricOptions{}));
  FABRIC_RETURN_IF_ERROR(fabric->Launch());
  fabric->Print(
      absl::StrFormat("train: world=%d device=%s", fabric->world_size(), fabric->device().str()));
  fabric->SeedEverything(1234);
  Mlp model;
  FABRIC_RETURN_IF_ERROR(fabric
                             ->Setup(model.ptr(),
                                     [](std::vector<at::Tensor> params) {
                                       return std::make_unique<torch::optim::Adam>(
                                           params, torch::optim::AdamOptions(3e-2));
                                     })
                             .status());
  std::vector<float> xs, ys;
  for (int step = 0; step < kSteps; ++step) {
    MakeBatch(step, fabric->rank(), &xs, &ys);
    FABRIC_ASSIGN_OR_RETURN(at::Tensor x,
                            fabric->ToDevice(torch::from_blob(xs.data(), {kBatch, kIn})));
    FABRIC_ASSIGN_OR_RETURN(at::Tensor y,
                            fabric->ToDevice(torch::from_blob(ys.data(), {kBatch, 1})));
    FABRIC_ASSIGN_OR_RETURN(at::Tensor loss,
                            fabric->Forward([&] { return torch::mse_loss(model->forward(x), y); }));
    FABRIC_RETURN_IF_ERROR(fabric->Backward(loss));
    FABRIC_RETURN_IF_ERROR(fabric->Step());
    FABRIC_ASSIGN_OR_RETURN(at::Tensor mean, fabric->AllReduce(loss.detach(), ReduceOp::kMean));
    fabric->Print(absl::StrFormat("step %d loss %.6f", step, mean.item<double>()));
  }
  fabric->Print("done");
  return absl::OkStatus();
}

}  // namespace

int main() {
  absl::Status s = Train();
  if (!s.ok()) {
    std::fprintf(stderr, "train: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
