// FSDP units whose parameters mix dtypes: one flat shard per dtype, gathered together by
// RunUnit. One process (the collectives are local), against the same model trained
// without FSDP.
#include <memory>
#include <optional>
#include <vector>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/communicator.h"
#include "runtime/fsdp_unit.h"
#include "runtime/precision.h"
#include "runtime/strategy.h"
#include "torch/torch.h"

namespace fabric::runtime {
namespace {

using ::testing::ElementsAre;

// A layer with a float32 linear map and a float64 gain: two dtypes in one unit.
struct BlockImpl : torch::nn::Module {
  BlockImpl() {
    lin = register_module("lin", torch::nn::Linear(4, 3));
    gain = register_parameter("gain", torch::rand({3}, at::kDouble) + 0.5);
  }
  at::Tensor forward(const at::Tensor& x) { return lin(x) * gain.to(x.scalar_type()); }
  torch::nn::Linear lin{nullptr};
  at::Tensor gain;
};
TORCH_MODULE(Block);

struct NetImpl : torch::nn::Module {
  NetImpl() {
    block = register_module("block", Block());
    head = register_module("head", torch::nn::Linear(3, 1));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor h =
        RunUnit(*block, x, [b = block.get()](const at::Tensor& in) { return b->forward(in); });
    return head(torch::tanh(h));
  }
  Block block{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(Net);

TEST(FsdpTest, AUnitWithTwoDtypesIsShardedPerDtypeAndTrainsLikeTheModel) {
  torch::manual_seed(3);
  Net net, ref;
  {
    torch::NoGradGuard no_grad;
    auto src = net->named_parameters();
    for (auto& item : ref->named_parameters()) item.value().copy_(src[item.key()]);
  }
  CommunicatorOptions co;
  FABRIC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Communicator> comm, Communicator::Create(co));
  FsdpOptions fo;
  fo.unit_types = {"Block"};
  fo.just_in_time = true;
  std::unique_ptr<Strategy> fsdp = MakeFsdpStrategy(comm.get(), fo);
  FABRIC_ASSERT_OK_AND_ASSIGN(std::vector<NamedTensor> shards, fsdp->Setup(net.ptr()));
  std::vector<std::string> names;
  std::vector<at::Tensor> tensors;
  for (auto& s : shards) {
    names.push_back(s.name + ":" + c10::toString(s.tensor.scalar_type()));
    tensors.push_back(s.tensor);
  }
  // In order of first appearance (a module's own parameters come before its children's).
  EXPECT_THAT(names, ElementsAre("block._flat_param:Double", "block#Float._flat_param:Float",
                                 "_flat_param:Float"));
  torch::optim::SGD opt(tensors, torch::optim::SGDOptions(0.1));
  torch::optim::SGD ref_opt(ref->parameters(), torch::optim::SGDOptions(0.1));
  for (int step = 0; step < 3; ++step) {
    at::Tensor x = torch::randn({5, 4});
    at::Tensor y = torch::randn({5, 1});
    ASSERT_THAT(fsdp->PreForward(true), IsOk());
    at::Tensor out = net->forward(x);
    ASSERT_THAT(fsdp->PostForward({out}, true), IsOk());
    // Right after forward the unit holds no full parameters (gathered just in time).
    EXPECT_EQ(net->block->gain.numel(), 0);
    EXPECT_EQ(net->block->lin->weight.numel(), 0);
    torch::mse_loss(out, y).backward();
    ASSERT_THAT(fsdp->PostBackward(true), IsOk());
    opt.step();
    ASSERT_THAT(fsdp->PostStep(), IsOk());
    ASSERT_THAT(fsdp->ZeroGrad(), IsOk());
    ref_opt.zero_grad();
    torch::mse_loss(ref->forward(x), y).backward();
    ref_opt.step();
  }
  FABRIC_ASSERT_OK_AND_ASSIGN(TensorMap state, fsdp->FullModelState(FullStateOn::kEveryRank));
  for (auto& item : ref->named_parameters()) {
    ASSERT_TRUE(state.count(item.key())) << item.key();
    EXPECT_EQ(state[item.key()].scalar_type(), item.value().scalar_type()) << item.key();
    EXPECT_TRUE(at::allclose(state[item.key()], item.value(), 1e-6, 1e-6)) << item.key();
  }
}

// Two float32 layers, each its own unit; records the dtype its weights had in forward.
struct MlpImpl : torch::nn::Module {
  MlpImpl() {
    fc1 = register_module("fc1", torch::nn::Linear(6, 16));
    fc2 = register_module("fc2", torch::nn::Linear(16, 2));
  }
  at::Tensor forward(const at::Tensor& x) {
    seen = fc1->weight.scalar_type();
    return fc2(torch::tanh(fc1(x)));
  }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  at::ScalarType seen = at::kFloat;
};
TORCH_MODULE(Mlp);

// Trains `steps` SGD steps under FSDP (per-Linear units), with bf16_gather under
// bf16-mixed autocast or in plain float32; returns each step's loss and the final shards.
struct MlpRun {
  std::vector<double> losses;
  std::vector<at::Tensor> shards;
  at::ScalarType forward_weight = at::kFloat, shard_grad = at::kFloat, released = at::kFloat;
};
MlpRun TrainMlp(bool bf16, int steps) {
  torch::manual_seed(11);
  Mlp net;
  CommunicatorOptions co;
  auto comm = Communicator::Create(co);
  EXPECT_TRUE(comm.ok());
  FsdpOptions fo;
  fo.unit_types = {"Linear"};
  fo.bf16_gather = bf16;
  std::unique_ptr<Strategy> fsdp = MakeFsdpStrategy(comm->get(), fo);
  auto shards = fsdp->Setup(net.ptr());
  EXPECT_TRUE(shards.ok());
  MlpRun r;
  for (auto& s : *shards) r.shards.push_back(s.tensor);
  torch::optim::SGD opt(r.shards, torch::optim::SGDOptions(0.2));
  const at::Tensor x = torch::randn({8, 6});  // one batch: the loss must fall
  const at::Tensor y = torch::randn({8, 2});
  for (int step = 0; step < steps; ++step) {
    EXPECT_THAT(fsdp->PreForward(true), IsOk());
    at::Tensor loss;
    {
      std::optional<AutocastScope> autocast;
      if (bf16) autocast.emplace(Precision::kBf16Mixed, c10::DeviceType::CPU);
      loss = torch::mse_loss(net->forward(x).to(at::kFloat), y);
    }
    r.forward_weight = net->seen;
    EXPECT_THAT(fsdp->PostForward({loss}, true), IsOk());
    loss.backward();
    EXPECT_THAT(fsdp->PostBackward(true), IsOk());
    r.shard_grad = r.shards[0].grad().scalar_type();
    opt.step();
    EXPECT_THAT(fsdp->PostStep(), IsOk());
    EXPECT_THAT(fsdp->ZeroGrad(), IsOk());
    r.losses.push_back(loss.item<double>());
  }
  r.released = net->fc1->weight.scalar_type();
  return r;
}

TEST(FsdpTest, Bf16GatherTrainsLikeFloat32WithinBf16Tolerance) {
  const MlpRun ref = TrainMlp(/*bf16=*/false, 6);
  const MlpRun low = TrainMlp(/*bf16=*/true, 6);
  EXPECT_EQ(ref.forward_weight, at::kFloat);
  EXPECT_EQ(low.forward_weight, at::kBFloat16);  // gathered in bf16: autocast copies nothing
  EXPECT_EQ(low.shard_grad, at::kFloat);         // the optimizer sees float32 gradients
  EXPECT_EQ(low.released, at::kFloat);           // a released parameter shows its master dtype
  ASSERT_EQ(ref.losses.size(), low.losses.size());
  for (size_t i = 0; i < ref.losses.size(); ++i) {
    EXPECT_NEAR(low.losses[i], ref.losses[i], 3e-2 * ref.losses[i]) << "step " << i;
  }
  EXPECT_LT(low.losses.back(), low.losses.front());
  ASSERT_EQ(ref.shards.size(), low.shards.size());
  for (size_t i = 0; i < ref.shards.size(); ++i) {
    EXPECT_EQ(low.shards[i].scalar_type(), at::kFloat);
    EXPECT_TRUE(at::allclose(low.shards[i], ref.shards[i], 3e-2, 3e-2)) << i;
  }
}

}  // namespace
}  // namespace fabric::runtime
