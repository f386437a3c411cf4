// FSDP units whose parameters mix dtypes: one flat shard per dtype, gathered together by
// RunUnit. One process (the collectives are local), against the same model trained
// without FSDP.
#include <memory>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/communicator.h"
#include "runtime/fsdp_unit.h"
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

}  // namespace
}  // namespace fabric::runtime
