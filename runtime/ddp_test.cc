// The DDP strategy (ddp.cc) and its in-place recovery part (ddp_recovery.h) with two real
// ranks: two threads of this process, each with its own Communicator (c10d TCPStore and
// ProcessGroupGloo over loopback), against gradients computed here without DDP.
#include <cstdlib>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "common/net.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/communicator.h"
#include "runtime/ddp_recovery.h"
#include "runtime/strategy.h"
#include "torch/torch.h"

namespace fabric::runtime {
namespace {

using ::testing::HasSubstr;

constexpr int kWorld = 2;

torch::nn::Sequential MakeNet(uint64_t seed) {
  torch::manual_seed(seed);
  return torch::nn::Sequential(torch::nn::Linear(4, 3), torch::nn::Tanh(), torch::nn::Linear(3, 1));
}

std::vector<at::Tensor> Params(const torch::nn::Sequential& m) { return m->parameters(); }

// Runs body(rank, comm, options) on kWorld threads, each with a Communicator of a fresh
// group made with `options`.
void OnEveryRank(const std::function<void(int, Communicator&, const CommunicatorOptions&)>& body) {
  // c10d's flight recorder is one per process and records a process group's first
  // collective outside its lock (FlightRecorder::record, all_pg_status_): two groups in
  // two threads of one process race there (a crash seen 2 in 120 runs). A worker has one
  // group at a time, so only this test needs it off; it is read when the first group
  // records.
  setenv("TORCH_FR_BUFFER_SIZE", "0", /*overwrite=*/1);
  absl::StatusOr<int> port = PickFreePort();
  ASSERT_THAT(port, IsOk());
  std::vector<std::thread> threads;
  for (int r = 0; r < kWorld; ++r) {
    threads.emplace_back([&, r] {
      CommunicatorOptions o;
      o.rank = r;
      o.world_size = kWorld;
      o.master_port = *port;
      o.timeout = absl::Seconds(60);
      absl::StatusOr<std::unique_ptr<Communicator>> comm = Communicator::Create(o);
      EXPECT_THAT(comm, IsOk()) << "rank " << r;
      if (comm.ok()) body(r, **comm, o);
    });
  }
  for (auto& t : threads) t.join();
}

struct Fixture {
  // Each rank's model starts from its own weights and sees its own batch.
  std::vector<torch::nn::Sequential> nets;
  std::vector<at::Tensor> xs, ys;
  // The gradients DDP must produce: the mean over ranks of each batch's gradient
  // through rank 0's initial weights.
  std::vector<at::Tensor> want;
  // Each rank's own gradient of the last parameter (no synchronisation).
  std::vector<at::Tensor> local_last;

  Fixture() {
    for (int r = 0; r < kWorld; ++r) {
      nets.push_back(MakeNet(10 + r));
      xs.push_back(torch::randn({5, 4}));
      ys.push_back(torch::randn({5, 1}));
    }
    torch::nn::Sequential ref = MakeNet(10);
    for (int r = 0; r < kWorld; ++r) {
      std::vector<at::Tensor> before;
      for (const at::Tensor& p : Params(ref)) {
        before.push_back(p.grad().defined() ? p.grad().clone() : at::zeros_like(p));
      }
      at::Tensor loss = torch::mse_loss(ref->forward(xs[r]), ys[r]) / kWorld;
      loss.backward();
      local_last.push_back((Params(ref)[3].grad() - before[3]) * kWorld);
    }
    for (const at::Tensor& p : Params(ref)) want.push_back(p.grad().clone());
  }

  // One synced forward and backward of rank r's batch through `ddp`.
  absl::Status Step(int r, Strategy& ddp) {
    FABRIC_RETURN_IF_ERROR(ddp.PreForward(/*sync=*/true));
    at::Tensor out = nets[r]->forward(xs[r]);
    FABRIC_RETURN_IF_ERROR(ddp.PostForward({out}, /*sync=*/true));
    torch::mse_loss(out, ys[r]).backward();
    return ddp.PostBackward(/*sync=*/true);
  }

  void ExpectWantedGradients(int r) {
    std::vector<at::Tensor> got = Params(nets[r]);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_TRUE(got[i].grad().defined()) << "rank " << r << " parameter " << i;
      EXPECT_TRUE(at::allclose(got[i].grad(), want[i], 1e-5, 1e-6))
          << "rank " << r << " parameter " << i << ": " << got[i].grad() << " vs " << want[i];
    }
  }
};

TEST(DdpTest, SetupBroadcastsRankZeroAndBackwardAveragesGradients) {
  Fixture f;
  const std::vector<at::Tensor> initial0 = [&] {
    std::vector<at::Tensor> v;
    for (const at::Tensor& p : Params(f.nets[0])) v.push_back(p.detach().clone());
    return v;
  }();
  ASSERT_FALSE(at::equal(Params(f.nets[1])[0], initial0[0]));  // the control
  OnEveryRank([&](int r, Communicator& comm, const CommunicatorOptions&) {
    std::unique_ptr<Strategy> ddp = MakeDdpStrategy(&comm, DdpOptions{});
    EXPECT_EQ(ddp->recovery(), nullptr);  // not recoverable unless asked
    absl::StatusOr<std::vector<NamedTensor>> named = ddp->Setup(f.nets[r].ptr());
    ASSERT_THAT(named, IsOk());
    ASSERT_EQ(named->size(), 4u);
    EXPECT_EQ((*named)[0].name, "0.weight");
    for (size_t i = 0; i < initial0.size(); ++i) {
      EXPECT_TRUE(at::equal(Params(f.nets[r])[i], initial0[i])) << "rank " << r;
    }
    ASSERT_THAT(f.Step(r, *ddp), IsOk());
    f.ExpectWantedGradients(r);
    EXPECT_THAT(ddp->ZeroGrad(), IsOk());
    EXPECT_FALSE(Params(f.nets[r])[0].grad().defined());
  });
}

TEST(DdpTest, OutsideSyncGradientsStayLocal) {
  Fixture f;
  OnEveryRank([&](int r, Communicator& comm, const CommunicatorOptions&) {
    std::unique_ptr<Strategy> ddp = MakeDdpStrategy(&comm, DdpOptions{});
    ASSERT_THAT(ddp->Setup(f.nets[r].ptr()), IsOk());
    ASSERT_THAT(ddp->PreForward(/*sync=*/false), IsOk());
    at::Tensor out = f.nets[r]->forward(f.xs[r]);
    ASSERT_THAT(ddp->PostForward({out}, /*sync=*/false), IsOk());
    torch::mse_loss(out, f.ys[r]).backward();
    ASSERT_THAT(ddp->PostBackward(/*sync=*/false), IsOk());
    // This rank's own gradient (through rank 0's weights), not the mean.
    at::Tensor g = Params(f.nets[r])[3].grad();
    EXPECT_TRUE(at::allclose(g, f.local_last[r], 1e-5, 1e-6)) << "rank " << r;
    EXPECT_FALSE(at::allclose(g, f.want[3])) << "rank " << r << " was synchronised";
  });
}

TEST(DdpTest, RecoverableDdpRedoesTheSyncFromTheSavedLocalGradients) {
  Fixture f;
  OnEveryRank([&](int r, Communicator& comm, const CommunicatorOptions& first) {
    DdpOptions o;
    o.recoverable = true;
    std::unique_ptr<Strategy> ddp = MakeDdpStrategy(&comm, o);
    InPlaceRecovery* rec = ddp->recovery();
    ASSERT_NE(rec, nullptr);
    ASSERT_THAT(ddp->Setup(f.nets[r].ptr()), IsOk());
    ASSERT_THAT(f.Step(r, *ddp), IsOk());
    EXPECT_FALSE(rec->GradSyncFailed());
    f.ExpectWantedGradients(r);
    // Every trainable parameter is in exactly one bucket.
    absl::StatusOr<Buckets> buckets = DecodeBucketLayout(rec->BucketLayout(), 4);
    ASSERT_THAT(buckets, IsOk());
    std::vector<int> seen(4, 0);
    for (const auto& b : *buckets) {
      for (size_t i : b) ++seen[i];
    }
    EXPECT_THAT(seen, ::testing::Each(1));
    // Overwrite the synced gradients: the redo must start from the saved local ones.
    for (at::Tensor& p : Params(f.nets[r])) p.mutable_grad().fill_(1e3);
    ASSERT_THAT(rec->ResyncLocalGradients(), IsOk());
    f.ExpectWantedGradients(r);
    // A group re-formed over the same store (recovery 1) and the donor's layout.
    rec->ForgetGroup();
    CommunicatorOptions again = first;
    again.recovery = 1;
    again.base_store = comm.base_store();
    absl::StatusOr<std::unique_ptr<Communicator>> comm2 = Communicator::Create(again);
    ASSERT_THAT(comm2, IsOk());
    ASSERT_THAT(rec->Rebind(comm2->get()), IsOk());
    ASSERT_THAT(rec->AdoptBucketLayout(EncodeBucketLayout(*buckets)), IsOk());
    EXPECT_THAT(rec->AdoptBucketLayout({1, 1, 9}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parameter 9 of 4")));
    ASSERT_THAT(ddp->ZeroGrad(), IsOk());
    rec->SyncNextManually();
    ASSERT_THAT(f.Step(r, *ddp), IsOk());
    f.ExpectWantedGradients(r);
    rec->ForgetGroup();  // before comm2 goes
  });
}

TEST(BucketLayoutTest, RoundTrips) {
  const Buckets b = {{3, 2}, {}, {1, 0}};
  EXPECT_THAT(EncodeBucketLayout(b), ::testing::ElementsAre(3, 2, 3, 2, 0, 2, 1, 0));
  absl::StatusOr<Buckets> back = DecodeBucketLayout(EncodeBucketLayout(b), 4);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(*back, b);
  EXPECT_THAT(DecodeBucketLayout({0}, 0), IsOk());
}

TEST(BucketLayoutTest, MalformedListsAreInvalidArgument) {
  const std::vector<std::vector<int64_t>> bad = {
      {},            // no count
      {-1},          // negative count
      {1},           // the bucket is missing
      {1, 2, 0},     // claims 2 parameters, has 1
      {1, -1},       // negative length
      {1, 1, 0, 0},  // a value after the last bucket
      {1, 1, 4},     // index out of range
      {1, 1, -2},    // negative index
  };
  for (const auto& layout : bad) {
    EXPECT_THAT(DecodeBucketLayout(layout, 4),
                StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_))
        << ::testing::PrintToString(layout);
  }
}

}  // namespace
}  // namespace fabric::runtime
