// Single-process behaviour and failure paths of Fabric (the multi-rank behaviour is
// tested with real processes in tests/runtime/).
#include "runtime/fabric.h"

#include "torch/cuda.h"

#include <stdlib.h>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/atomic_file.h"
#include "torch/torch.h"

namespace fabric::runtime {
namespace {

using ::testing::HasSubstr;

std::string TempDir() {
  std::string tmpl =
      std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") + "/fabric_XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  return mkdtemp(buf.data());
}

std::unique_ptr<torch::optim::Optimizer> Sgd(std::vector<at::Tensor> p) {
  return std::make_unique<torch::optim::SGD>(p, torch::optim::SGDOptions(0.1));
}

std::unique_ptr<Fabric> Launched(FabricOptions o = {}) {
  auto f = Fabric::Create(o, EnvMap{});
  EXPECT_THAT(f, IsOk());
  EXPECT_THAT((*f)->Launch(), IsOk());
  return std::move(*f);
}

TEST(FabricTest, CallsBeforeLaunchOrSetupAreFailedPrecondition) {
  FABRIC_ASSERT_OK_AND_ASSIGN(auto f, Fabric::Create({}, EnvMap{}));
  EXPECT_THAT(f->Setup(torch::nn::Linear(2, 2).ptr(), Sgd),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("before Launch")));
  EXPECT_THAT(f->Barrier(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("Launch")));
  ASSERT_THAT(f->Launch(), IsOk());
  EXPECT_THAT(f->Launch(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("twice")));
  EXPECT_THAT(f->Backward(at::ones({1})),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("before Setup")));
  EXPECT_THAT(f->Forward([] { return 1; }).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("before Setup")));
  EXPECT_THAT(f->Save("/tmp/x", {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("before Setup")));
}

TEST(FabricTest, ForwardErrorsBecomeStatusWithRank) {
  auto f = Launched();
  torch::nn::Linear lin(2, 2);
  ASSERT_THAT(f->Setup(lin.ptr(), Sgd), IsOk());
  auto out = f->Forward([&] { return lin->forward(at::ones({3, 5})); });
  EXPECT_THAT(out.status(), StatusIs(absl::StatusCode::kInternal, HasSubstr("rank 0: forward")));
}

TEST(FabricTest, NullOptimizerAndBadClipAreInvalidArgument) {
  auto f = Launched();
  EXPECT_THAT(
      f->Setup(torch::nn::Linear(2, 2).ptr(), [](std::vector<at::Tensor>) { return nullptr; }),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("returned null")));
  auto g = Launched();
  ASSERT_THAT(g->Setup(torch::nn::Linear(2, 2).ptr(), Sgd), IsOk());
  EXPECT_THAT(g->ClipGradients(0).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_norm")));
}

TEST(FabricTest, SeveralModulesMaySetUpButEachOnce) {
  auto f = Launched();
  torch::nn::Linear g(2, 2), d(2, 1);
  FABRIC_ASSERT_OK_AND_ASSIGN(Fabric::Model * gm, f->Setup(g.ptr(), Sgd));
  FABRIC_ASSERT_OK_AND_ASSIGN(Fabric::Model * dm, f->Setup(d.ptr(), Sgd));
  EXPECT_EQ(gm->index(), 0);
  EXPECT_EQ(dm->index(), 1);
  EXPECT_EQ(&dm->module(), d.ptr().get());
  EXPECT_THAT(f->Setup(g.ptr(), Sgd).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("set up already")));
  // Which model to clip is ambiguous with two.
  EXPECT_THAT(f->ClipGradients(1.0).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2 models")));
}

TEST(FabricTest, TwoModelsSaveAndLoadUnderTheirOwnNames) {
  std::string path = TempDir() + "/two.ckpt";
  torch::nn::Linear g(2, 2), d(2, 1);
  {
    auto f = Launched();
    ASSERT_THAT(f->Setup(g.ptr(), Sgd), IsOk());
    ASSERT_THAT(f->Setup(d.ptr(), Sgd), IsOk());
    ASSERT_THAT(f->Save(path, {}), IsOk());
  }
  FABRIC_ASSERT_OK_AND_ASSIGN(CheckpointData data, ReadCheckpoint(path, 0));
  EXPECT_EQ(data.model.count("weight"), 1u);
  EXPECT_EQ(data.model.count("model1:weight"), 1u);
  EXPECT_EQ(data.model.at("model1:weight").size(0), 1);
  torch::nn::Linear g2(2, 2), d2(2, 1);
  auto f = Launched();
  ASSERT_THAT(f->Setup(g2.ptr(), Sgd), IsOk());
  ASSERT_THAT(f->Setup(d2.ptr(), Sgd), IsOk());
  ASSERT_THAT(f->Load(path), IsOk());
  EXPECT_TRUE(at::equal(g2->weight, g->weight));
  EXPECT_TRUE(at::equal(d2->weight, d->weight));
}

TEST(FabricTest, NamedFactorySeesParameterNamesForParameterGroups) {
  auto f = Launched();
  torch::nn::Linear lin(3, 2);
  std::vector<std::string> names;
  ASSERT_THAT(f->Setup(lin.ptr(),
                       [&](std::vector<NamedTensor> params) {
                         std::vector<at::Tensor> decay, no_decay;
                         for (auto& p : params) {
                           names.push_back(p.name);
                           (p.name == "bias" ? no_decay : decay).push_back(p.tensor);
                         }
                         std::vector<torch::optim::OptimizerParamGroup> groups;
                         groups.emplace_back(
                             decay, std::make_unique<torch::optim::AdamWOptions>(
                                        torch::optim::AdamWOptions(0.1).weight_decay(0.1)));
                         groups.emplace_back(no_decay,
                                             std::make_unique<torch::optim::AdamWOptions>(
                                                 torch::optim::AdamWOptions(0.1).weight_decay(0)));
                         return std::make_unique<torch::optim::AdamW>(groups);
                       }),
              IsOk());
  EXPECT_THAT(names, ::testing::ElementsAre("weight", "bias"));
  EXPECT_EQ(f->optimizer()->param_groups().size(), 2u);
}

TEST(FabricTest, ClipGradientsBoundsTheNorm) {
  auto f = Launched();
  torch::nn::Linear lin(4, 4);
  ASSERT_THAT(f->Setup(lin.ptr(), Sgd), IsOk());
  FABRIC_ASSERT_OK_AND_ASSIGN(at::Tensor loss, f->Forward([&] {
    return lin->forward(at::ones({2, 4})).sum() * 100;
  }));
  ASSERT_THAT(f->Backward(loss), IsOk());
  FABRIC_ASSERT_OK_AND_ASSIGN(double before, f->ClipGradients(1.0));
  EXPECT_GT(before, 1.0);
  double after = 0;
  for (auto& p : lin->parameters()) after += p.grad().pow(2).sum().item<double>();
  EXPECT_NEAR(std::sqrt(after), 1.0, 1e-4);
}

TEST(FabricTest, CorruptCheckpointIsDataLoss) {
  auto f = Launched();
  ASSERT_THAT(f->Setup(torch::nn::Linear(2, 2).ptr(), Sgd), IsOk());
  std::string path = TempDir() + "/bad.ckpt";
  ASSERT_THAT(WriteFileAtomically(path, "not a checkpoint"), IsOk());
  EXPECT_THAT(f->Load(path).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not a fabric-run checkpoint")));
}

TEST(FabricTest, CheckpointOfAnotherModelIsRejectedNamingTheTensor) {
  std::string path = TempDir() + "/m.ckpt";
  {
    auto f = Launched();
    ASSERT_THAT(f->Setup(torch::nn::Linear(2, 3).ptr(), Sgd), IsOk());
    ASSERT_THAT(f->Save(path, {}), IsOk());
  }
  auto g = Launched();
  ASSERT_THAT(g->Setup(torch::nn::Linear(2, 4).ptr(), Sgd), IsOk());
  EXPECT_THAT(g->Load(path).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'weight' has shape")));
}

TEST(FabricTest, SaveIntoAFileAsDirectoryFails) {
  auto f = Launched();
  ASSERT_THAT(f->Setup(torch::nn::Linear(2, 2).ptr(), Sgd), IsOk());
  std::string dir = TempDir();
  ASSERT_THAT(WriteFileAtomically(dir + "/file", "x"), IsOk());
  EXPECT_THAT(f->Save(dir + "/file/ckpt", {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a directory")));
}

TEST(FabricTest, SaveAndLoadRoundTripsExtraStateAndStep) {
  std::string path = TempDir() + "/rt.ckpt";
  auto f = Launched();
  torch::nn::Linear lin(3, 3);
  ASSERT_THAT(f->Setup(lin.ptr(), Sgd), IsOk());
  TrainState st;
  st.step = 17;
  st.extra["lr_schedule"] = at::full({2}, 0.5);
  ASSERT_THAT(f->Save(path, st), IsOk());
  at::Tensor saved = lin->weight.detach().clone();
  {
    torch::NoGradGuard ng;
    lin->weight.zero_();
  }
  FABRIC_ASSERT_OK_AND_ASSIGN(TrainState back, f->Load(path));
  EXPECT_EQ(back.step, 17);
  EXPECT_TRUE(at::allclose(back.extra.at("lr_schedule"), at::full({2}, 0.5)));
  EXPECT_TRUE(at::equal(lin->weight, saved));
}

TEST(FabricTest, FsdpKeepsBuffersWholeAndInTheStateDict) {
  FabricOptions o;
  o.strategy = "fsdp";
  auto f = Launched(o);
  torch::nn::BatchNorm1d bn(4);
  ASSERT_THAT(f->Setup(bn.ptr(), Sgd), IsOk());
  FABRIC_ASSERT_OK_AND_ASSIGN(at::Tensor loss, f->Forward([&] {
    return bn->forward(at::randn({8, 4}) + 3.0).pow(2).sum();
  }));
  ASSERT_THAT(f->Backward(loss), IsOk());
  ASSERT_THAT(f->Step(), IsOk());
  FABRIC_ASSERT_OK_AND_ASSIGN(TensorMap state, f->ModelStateDict());
  for (const char* name :
       {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}) {
    EXPECT_EQ(state.count(name), 1u) << name;
  }
  EXPECT_GT(state.at("running_mean").mean().item<double>(), 0.1);  // updated by the forward
  EXPECT_EQ(state.at("num_batches_tracked").item<int64_t>(), 1);
}

TEST(FabricTest, UnsupportedOptimizerStateCannotBeSaved) {
  auto f = Launched();
  torch::nn::Linear lin(2, 2);
  ASSERT_THAT(f->Setup(lin.ptr(),
                       [](std::vector<at::Tensor> p) {
                         return std::make_unique<torch::optim::RMSprop>(p);
                       }),
              IsOk());
  FABRIC_ASSERT_OK_AND_ASSIGN(at::Tensor loss, f->Forward([&] {
    return lin->forward(at::ones({1, 2})).sum();
  }));
  ASSERT_THAT(f->Backward(loss), IsOk());
  ASSERT_THAT(f->Step(), IsOk());
  EXPECT_THAT(f->Save(TempDir() + "/x.ckpt", {}),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("SGD, Adam and AdamW")));
}

TEST(FabricTest, SingleProcessCollectivesAreIdentity) {
  auto f = Launched();
  FABRIC_ASSERT_OK_AND_ASSIGN(at::Tensor s, f->AllReduce(at::full({2}, 3.0), ReduceOp::kSum));
  EXPECT_TRUE(at::allclose(s, at::full({2}, 3.0)));
  FABRIC_ASSERT_OK_AND_ASSIGN(at::Tensor g, f->AllGather(at::ones({2})));
  EXPECT_EQ(g.sizes(), (std::vector<int64_t>{1, 2}));
  EXPECT_THAT(f->Broadcast(at::ones({1}), 1).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("root 1")));
  EXPECT_THAT(f->Barrier(), IsOk());
}

TEST(FabricTest, CudaWithoutAGpuIsRefused) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "this machine has a GPU";
  FabricOptions o;
  o.accelerator = "cuda";
  EXPECT_THAT(Fabric::Create(o, EnvMap{}).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("sees no GPU")));
}

}  // namespace
}  // namespace fabric::runtime
