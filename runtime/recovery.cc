// Fabric's in-place recovery (fabric.h, "In-place recovery"; doc/runtime.md).
//
// Protocol, in the order every rank issues it on the re-formed group n (store keys under
// "fabric/round/<round>/recovery/<n>/"):
//   live rank (in RecoverInPlace)          replacement (Launch, first Setup, Backward)
//   forget the failed group, close it      connect to the store as a client
//   wait for ".../recovery/<n>/joined"      n = add("fabric/round/<round>/replacements")
//                                           set ".../recovery/<n>/joined"
//   form group n                           form group n
//   ElectDonor: all-gather steps done      ElectDonor (steps -1)
//   Rebind: new reducer (shape check)      Setup: strategy (shape check), no broadcast
//   TransferState: 2 broadcasts            TransferState: 2 broadcasts, load
//   redo the step's gradient all-reduce    Backward: the same all-reduce, once
// A live rank whose peers had already finished the step (the donor is one step ahead)
// loads the donor's state, skips its Step() and all-reduces in its next Backward, as
// the replacement does.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <utility>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "common/worker_control.h"
#include "common/worker_env.h"
#include "runtime/fabric.h"
#include "runtime/heartbeat.h"
#include "torch/csrc/distributed/c10d/Store.hpp"
#include "torch/csrc/jit/serialization/pickle.h"

namespace fabric::runtime {
namespace {

std::string RoundKey(int64_t round, absl::string_view rest) {
  return absl::StrCat("fabric/round/", round, "/", rest);
}

std::string JoinedKey(int64_t round, int n) {
  return RoundKey(round, absl::StrCat("recovery/", n, "/joined"));
}

void Say(const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }

}  // namespace

CommunicatorOptions Fabric::CommOptions(absl::Duration timeout) const {
  CommunicatorOptions co;
  co.rank = config_.rank;
  co.world_size = config_.world_size;
  co.master_addr = config_.master_addr;
  co.master_port = config_.master_port;
  co.timeout = timeout;
  if (const char* ifname = getenv("GLOO_SOCKET_IFNAME")) co.gloo_interface = ifname;
  co.cuda_backend = config_.backend;
  co.cuda_device = device_.is_cuda() ? device_.index() : -1;
  co.round = config_.round;
  co.recovery = recovery_n_;
  return co;
}

bool Fabric::RecoversInPlace(const Model& model) const {
  return config_.recovery_in_place && config_.world_size > 1 &&
         config_.strategy != StrategyKind::kFsdp && model.index_ == 0;
}

absl::Status Fabric::CheckRecoverable(const Model& model) const {
  if (!config_.recovery_in_place || config_.world_size == 1) return absl::OkStatus();
  if (model.strategy_->recovery() != nullptr) return absl::OkStatus();
  const std::string why = model.index_ > 0 ? "with several models set up"
                                            : "under FSDP (a lost shard exists nowhere else)";
  if (config_.replacement) {
    return absl::FailedPreconditionError(
        absl::StrCat("in-place recovery: this replacement cannot join ", why));
  }
  if (IsGlobalZero()) {
    Say(absl::StrCat("fabric runtime: in-place recovery is not available ", why,
                     "; a failed worker restarts every worker"));
  }
  return absl::OkStatus();
}

absl::Status Fabric::JoinAsReplacement(CommunicatorOptions& options) {
  options.timeout = config_.recovery_timeout;  // connecting: the live ranks wait that long
  FABRIC_ASSIGN_OR_RETURN(options.base_store,
                          Communicator::ConnectStore(options, /*client_only=*/true));
  options.timeout = launch_timeout_;
  FABRIC_ASSIGN_OR_RETURN(
      int64_t n, TorchCall(rank(), "join the running job", [&] {
        const int64_t k = options.base_store->add(RoundKey(config_.round, "replacements"), 1);
        options.base_store->set(JoinedKey(config_.round, static_cast<int>(k)),
                                std::vector<uint8_t>{'1'});
        return k;
      }));
  recovery_n_ = static_cast<int>(n);
  options.recovery = recovery_n_;
  return absl::OkStatus();
}

std::optional<std::pair<int, int>> Fabric::ReadShrink() {
  const char* fifo = std::getenv(kEnvFabricControlFifo);
  if (fifo == nullptr) return std::nullopt;
  if (control_fd_ < 0) control_fd_ = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (control_fd_ < 0) return std::nullopt;
  char buf[256];
  ssize_t r;
  while ((r = read(control_fd_, buf, sizeof(buf))) > 0) control_buf_.append(buf, static_cast<size_t>(r));
  const size_t nl = control_buf_.find('\n');
  if (nl == std::string::npos) return std::nullopt;
  const std::string line = control_buf_.substr(0, nl);
  control_buf_.erase(0, nl + 1);
  absl::StatusOr<ShrinkCommand> shrink = DecodeShrink(line);  // common/worker_control.h
  if (!shrink.ok()) {
    std::fprintf(stderr, "fabric runtime: ignoring a control line: %s\n",
                 std::string(shrink.status().message()).c_str());
    return std::nullopt;
  }
  return std::make_pair(shrink->world_size, shrink->rank);
}

absl::Status Fabric::ElectDonor(int64_t my_steps) {
  at::Tensor mine = at::full({1}, my_steps, at::kLong);
  FABRIC_ASSIGN_OR_RETURN(std::vector<at::Tensor> all, comm_->AllGather(mine));
  donor_ = -1;
  donor_steps_ = -1;
  for (size_t r = 0; r < all.size(); ++r) {
    const int64_t s = all[r].item<int64_t>();
    if (s > donor_steps_) {
      donor_steps_ = s;
      donor_ = static_cast<int>(r);
    }
  }
  if (donor_steps_ < 0) {
    return absl::FailedPreconditionError("in-place recovery: no live rank holds a state");
  }
  return absl::OkStatus();
}

absl::Status Fabric::TransferState(Model& model) {
  const bool donor = rank() == donor_;
  const bool load = !donor && steps_done_ < donor_steps_;
  std::vector<char> blob;
  if (donor) {
    FABRIC_ASSIGN_OR_RETURN(TensorMap params,
                            model.strategy_->FullModelState(FullStateOn::kEveryRank));
    FABRIC_ASSIGN_OR_RETURN(TensorMap optim, model.strategy_->FullOptimizerState(
                                                 *model.optimizer_, FullStateOn::kEveryRank));
    FABRIC_ASSIGN_OR_RETURN(blob, TorchCall(rank(), "pack the state", [&] {
      c10::Dict<std::string, at::Tensor> dict;
      for (auto& [k, v] : params) dict.insert("model/" + k, v.cpu());
      for (auto& [k, v] : optim) dict.insert("optim/" + k, v.cpu());
      if (step_rng_.defined()) {
        dict.insert("meta/rng", step_rng_);
      } else {
        auto gen = at::detail::getDefaultCPUGenerator();
        std::lock_guard<std::mutex> lock(gen.mutex());
        dict.insert("meta/rng", gen.get_state());
      }
      if (scaler_ != nullptr) {  // 16-mixed: go on with the donor's loss scale
        auto [scale, growth] = scaler_->State();
        dict.insert("meta/scaler_scale", scale.cpu());
        dict.insert("meta/scaler_growth", growth.cpu());
      }
      const std::vector<int64_t> layout = model.strategy_->recovery()->BucketLayout();
      dict.insert("meta/buckets", at::tensor(layout, at::kLong));
      return torch::jit::pickle_save(c10::IValue(dict));
    }));
  }
  at::Tensor size = at::full({1}, static_cast<int64_t>(blob.size()), at::kLong);
  FABRIC_RETURN_IF_ERROR(comm_->Broadcast(size, donor_));
  const int64_t n = size.item<int64_t>();
  at::Tensor bytes = donor ? at::from_blob(blob.data(), {n}, at::kByte).clone()
                           : at::empty({n}, at::kByte);
  FABRIC_RETURN_IF_ERROR(comm_->Broadcast(bytes, donor_));
  if (!load) return absl::OkStatus();
  FABRIC_ASSIGN_OR_RETURN(c10::IValue value, TorchCall(rank(), "unpack the state", [&] {
    const char* p = static_cast<const char*>(bytes.data_ptr());
    return torch::jit::pickle_load(std::vector<char>(p, p + n));
  }));
  TensorMap params, optim;
  at::Tensor rng, buckets, scaler_scale, scaler_growth;
  FABRIC_RETURN_IF_ERROR(TorchCall(rank(), "read the state", [&] {
    for (const auto& item : value.toGenericDict()) {
      const std::string key = item.key().toStringRef();
      at::Tensor t = item.value().toTensor();
      if (key.rfind("model/", 0) == 0) params[key.substr(6)] = t;
      else if (key.rfind("optim/", 0) == 0) optim[key.substr(6)] = t;
      else if (key == "meta/rng") rng = t;
      else if (key == "meta/buckets") buckets = t;
      else if (key == "meta/scaler_scale") scaler_scale = t;
      else if (key == "meta/scaler_growth") scaler_growth = t;
    }
  }));
  FABRIC_RETURN_IF_ERROR(model.strategy_->LoadFullModelState(params));
  FABRIC_RETURN_IF_ERROR(model.strategy_->LoadFullOptimizerState(*model.optimizer_, optim));
  if (buckets.defined()) {
    const int64_t* b = buckets.data_ptr<int64_t>();
    FABRIC_RETURN_IF_ERROR(model.strategy_->recovery()->AdoptBucketLayout(
        std::vector<int64_t>(b, b + buckets.numel())));
  }
  if (scaler_ != nullptr) {
    if (!scaler_scale.defined() || !scaler_growth.defined()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "in-place recovery: rank ", donor_, " sent no loss-scaler state (16-mixed)"));
    }
    FABRIC_RETURN_IF_ERROR(TorchCall(rank(), "restore the loss scaler", [&] {
      scaler_->SetState(scaler_scale, scaler_growth);
    }));
  }
  if (rng.defined()) {
    FABRIC_RETURN_IF_ERROR(TorchCall(rank(), "restore RNG state", [&] {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(rng);
    }));
  }
  return absl::OkStatus();
}

absl::Status Fabric::ReceiveStateAsReplacement(Model& model) {
  InPlaceRecovery* rec = model.strategy_->recovery();
  if (rec == nullptr) {
    return absl::FailedPreconditionError("in-place recovery: the first model cannot recover");
  }
  steps_done_ = -1;
  FABRIC_RETURN_IF_ERROR(TransferState(model));
  steps_done_ = donor_steps_;
  joined_at_step_ = steps_done_;
  rec->SyncNextManually();
  std::fprintf(stderr,
               "fabric runtime: rank %d replaced a failed worker: joined re-formation %d at "
               "step %lld with rank %d's state\n",
               rank(), recovery_n_, static_cast<long long>(steps_done_), donor_);
  return absl::OkStatus();
}

absl::Status Fabric::RecoverInPlace(Model& model, const absl::Status& failure,
                                    RecoveryPoint point) {
  const absl::Time start = absl::Now();
  InPlaceRecovery* rec = model.strategy_->recovery();
  c10::intrusive_ptr<c10d::Store> store = comm_->base_store();
  rec->ForgetGroup();
  // Closing the failed group's connections makes the peers still blocked on this rank
  // fail at once too, rather than at their collective timeout.
  comm_.reset();
  const int n = recovery_n_ + 1;
  auto wrap = [&](const absl::Status& st) {
    return absl::Status(st.code(),
                        absl::StrCat("in-place recovery ", n, " failed (", st.message(),
                                     ") after: ", failure.message()));
  };
  std::fprintf(stderr,
               "fabric runtime: rank %d: a peer failed during %s of step %lld; re-forming "
               "the group (recovery %d)\n",
               rank(),
               point == RecoveryPoint::kGradientSync ? "the gradient synchronisation"
                                                     : "the buffers' broadcast",
               static_cast<long long>(steps_done_), n);
  // Either a replacement joins (the store key), or fabric-run says the job goes on with
  // fewer ranks (the control FIFO: a node was lost).
  const absl::Time deadline = absl::Now() + config_.recovery_timeout;
  bool shrunk = false;
  for (;;) {
    absl::StatusOr<bool> joined = TorchCall(rank(), "look for the replacement", [&] {
      return store->check({JoinedKey(config_.round, n)});
    });
    if (!joined.ok()) return wrap(joined.status());
    if (*joined) break;
    std::optional<std::pair<int, int>> shrink = ReadShrink();
    if (shrink.has_value()) {
      std::fprintf(stderr, "fabric runtime: rank %d: the job goes on with %d ranks; this is rank %d\n",
                   rank(), shrink->first, shrink->second);
      config_.world_size = shrink->first;
      config_.rank = shrink->second;
      shrunk = true;
      break;
    }
    if (absl::Now() > deadline) {
      return wrap(absl::DeadlineExceededError(absl::StrCat(
          "no replacement joined and fabric-run did not shrink the job within ",
          absl::FormatDuration(config_.recovery_timeout))));
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  CommunicatorOptions co = CommOptions(launch_timeout_);
  co.base_store = store;
  co.recovery = n;
  absl::StatusOr<std::unique_ptr<Communicator>> comm = Communicator::Create(co);
  if (!comm.ok()) return wrap(comm.status());
  comm_ = std::move(*comm);
  recovery_n_ = n;
  absl::Status st = ElectDonor(steps_done_);
  if (st.ok()) st = rec->Rebind(comm_.get());
  if (st.ok()) st = TransferState(model);
  if (!st.ok()) return wrap(st);
  if (point == RecoveryPoint::kBeforeForward) {
    // Nobody can have finished the step this rank has not begun.
    if (steps_done_ != donor_steps_) {
      return wrap(absl::InternalError(absl::StrCat("rank ", donor_, " is at step ",
                                                   donor_steps_, ", this rank at ",
                                                   steps_done_)));
    }
    rec->SyncNextManually();
  } else if (steps_done_ < donor_steps_) {
    // The others finished this step: their state includes its update.
    steps_done_ = donor_steps_;
    skip_next_step_ = true;
    rec->SyncNextManually();
  } else {
    st = rec->ResyncLocalGradients();
    if (!st.ok()) return wrap(st);
  }
  if (shrunk) AckShrink();  // fabric-run waits for it (runtime/heartbeat.h)
  std::fprintf(stderr,
               "fabric runtime: rank %d: recovered in place (re-formation %d, state from rank "
               "%d at step %lld) in %.0f ms\n",
               rank(), n, donor_, static_cast<long long>(donor_steps_),
               absl::ToDoubleMilliseconds(absl::Now() - start));
  return absl::OkStatus();
}

}  // namespace fabric::runtime
