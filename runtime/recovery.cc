// In-place recovery: see recovery.h (the protocol) and fabric.h ("In-place recovery").
#include "runtime/recovery.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <utility>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "common/worker_control.h"
#include "common/worker_env.h"
#include "runtime/heartbeat.h"
#include "runtime/rng_state.h"
#include "runtime/torch_status.h"
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

absl::StatusOr<Donor> ElectDonorFrom(const std::vector<int64_t>& steps) {
  Donor d;
  for (size_t r = 0; r < steps.size(); ++r) {
    if (steps[r] > d.steps) d = Donor{static_cast<int>(r), steps[r]};
  }
  if (d.steps < 0) {
    return absl::FailedPreconditionError("in-place recovery: no live rank holds a state");
  }
  return d;
}

ControlFifo::~ControlFifo() {
  if (fd_ >= 0) close(fd_);
}

std::optional<ShrinkCommand> ControlFifo::ReadShrink() {
  if (path_.empty()) return std::nullopt;
  if (fd_ < 0) fd_ = open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) return std::nullopt;
  char buf[256];
  ssize_t r;
  while ((r = read(fd_, buf, sizeof(buf))) > 0) buf_.append(buf, static_cast<size_t>(r));
  const size_t nl = buf_.find('\n');
  if (nl == std::string::npos) return std::nullopt;
  const std::string line = buf_.substr(0, nl);
  buf_.erase(0, nl + 1);
  absl::StatusOr<ShrinkCommand> shrink = DecodeShrink(line);  // common/worker_control.h
  if (!shrink.ok()) {
    std::fprintf(stderr, "fabric runtime: ignoring a control line: %s\n",
                 std::string(shrink.status().message()).c_str());
    return std::nullopt;
  }
  return *shrink;
}

Recovery::Recovery(FabricState state, std::string control_fifo, std::string gloo_interface)
    : state_(state),
      gloo_interface_(std::move(gloo_interface)),
      control_(std::move(control_fifo)) {}

CommunicatorOptions Recovery::CommOptions(absl::Duration timeout) const {
  const RuntimeConfig& config = *state_.config;
  CommunicatorOptions co;
  co.rank = config.rank;
  co.world_size = config.world_size;
  co.master_addr = config.master_addr;
  co.master_port = config.master_port;
  co.timeout = timeout;
  co.gloo_interface = gloo_interface_;
  co.cuda_backend = config.backend;
  co.cuda_device = state_.device.is_cuda() ? state_.device.index() : -1;
  co.round = config.round;
  co.recovery = recovery_n_;
  return co;
}

bool Recovery::RecoversInPlace(int index) const {
  const RuntimeConfig& config = *state_.config;
  return config.recovery_in_place && config.world_size > 1 &&
         config.strategy != StrategyKind::kFsdp && index == 0;
}

absl::Status Recovery::CheckRecoverable(Strategy& strategy, int index) const {
  const RuntimeConfig& config = *state_.config;
  if (!config.recovery_in_place || config.world_size == 1) return absl::OkStatus();
  if (strategy.recovery() != nullptr) return absl::OkStatus();
  const std::string why =
      index > 0 ? "with several models set up" : "under FSDP (a lost shard exists nowhere else)";
  if (config.replacement) {
    return absl::FailedPreconditionError(
        absl::StrCat("in-place recovery: this replacement cannot join ", why));
  }
  if (config.rank == 0) {
    Say(absl::StrCat("fabric runtime: in-place recovery is not available ", why,
                     "; a failed worker restarts every worker"));
  }
  return absl::OkStatus();
}

absl::Status Recovery::JoinAsReplacement(CommunicatorOptions& options,
                                         absl::Duration launch_timeout) {
  const RuntimeConfig& config = *state_.config;
  launch_timeout_ = launch_timeout;
  options.timeout = config.recovery_timeout;  // connecting: the live ranks wait that long
  FABRIC_ASSIGN_OR_RETURN(options.base_store,
                          Communicator::ConnectStore(options, /*client_only=*/true));
  options.timeout = launch_timeout;
  FABRIC_ASSIGN_OR_RETURN(int64_t n, TorchCall(rank(), "join the running job", [&] {
                            const int64_t k =
                                options.base_store->add(RoundKey(config.round, "replacements"), 1);
                            options.base_store->set(JoinedKey(config.round, static_cast<int>(k)),
                                                    std::vector<uint8_t>{'1'});
                            return k;
                          }));
  recovery_n_ = static_cast<int>(n);
  options.recovery = recovery_n_;
  return absl::OkStatus();
}

absl::Status Recovery::ElectDonor(int64_t my_steps) {
  at::Tensor mine = at::full({1}, my_steps, at::kLong);
  FABRIC_ASSIGN_OR_RETURN(std::vector<at::Tensor> all, comm().AllGather(mine));
  std::vector<int64_t> steps;
  FABRIC_RETURN_IF_ERROR(TorchCall(rank(), "read the steps done", [&] {
    for (const at::Tensor& t : all) steps.push_back(t.item<int64_t>());
  }));
  FABRIC_ASSIGN_OR_RETURN(donor_, ElectDonorFrom(steps));
  return absl::OkStatus();
}

void Recovery::RememberStepRng() {
  absl::StatusOr<RngStates> rng = ReadRngStates(rank(), state_.device);
  // Unreadable (a LibTorch error): TransferState sends the states as they are then.
  step_rng_ = rng.ok() ? *rng : RngStates{};
}

bool Recovery::TakeSkipNextStep() {
  const bool skip = skip_next_step_;
  skip_next_step_ = false;
  return skip;
}

absl::Status Recovery::TransferState(Strategy& strategy, torch::optim::Optimizer& optimizer) {
  const bool donor = rank() == donor_.rank;
  const bool load = !donor && *state_.steps_done < donor_.steps;
  std::vector<char> blob;
  if (donor) {
    RngStates rng = step_rng_;  // what this step's forward drew from, else the current
    if (!rng.cpu.defined()) {
      FABRIC_ASSIGN_OR_RETURN(rng, ReadRngStates(rank(), state_.device));
    }
    FABRIC_ASSIGN_OR_RETURN(TensorMap params, strategy.FullModelState(FullStateOn::kEveryRank));
    FABRIC_ASSIGN_OR_RETURN(TensorMap optim,
                            strategy.FullOptimizerState(optimizer, FullStateOn::kEveryRank));
    FABRIC_ASSIGN_OR_RETURN(
        blob, TorchCall(rank(), "pack the state", [&] {
          c10::Dict<std::string, at::Tensor> dict;
          for (auto& [k, v] : params) dict.insert("model/" + k, v.cpu());
          for (auto& [k, v] : optim) dict.insert("optim/" + k, v.cpu());
          if (rng.cpu.defined()) dict.insert("meta/rng", rng.cpu);
          if (rng.cuda.defined()) dict.insert("meta/rng_cuda", rng.cuda.cpu());
          if (scaler() != nullptr) {  // 16-mixed: go on with the donor's loss scale
            auto [scale, growth] = scaler()->State();
            dict.insert("meta/scaler_scale", scale.cpu());
            dict.insert("meta/scaler_growth", growth.cpu());
          }
          const std::vector<int64_t> layout = strategy.recovery()->BucketLayout();
          dict.insert("meta/buckets", at::tensor(layout, at::kLong));
          return torch::jit::pickle_save(c10::IValue(dict));
        }));
  }
  at::Tensor size = at::full({1}, static_cast<int64_t>(blob.size()), at::kLong);
  FABRIC_RETURN_IF_ERROR(comm().Broadcast(size, donor_.rank));
  const int64_t n = size.item<int64_t>();
  at::Tensor bytes =
      donor ? at::from_blob(blob.data(), {n}, at::kByte).clone() : at::empty({n}, at::kByte);
  FABRIC_RETURN_IF_ERROR(comm().Broadcast(bytes, donor_.rank));
  if (!load) return absl::OkStatus();
  FABRIC_ASSIGN_OR_RETURN(c10::IValue value, TorchCall(rank(), "unpack the state", [&] {
                            const char* p = static_cast<const char*>(bytes.data_ptr());
                            return torch::jit::pickle_load(std::vector<char>(p, p + n));
                          }));
  TensorMap params, optim;
  RngStates rng;
  at::Tensor buckets, scaler_scale, scaler_growth;
  FABRIC_RETURN_IF_ERROR(TorchCall(rank(), "read the state", [&] {
    for (const auto& item : value.toGenericDict()) {
      const std::string key = item.key().toStringRef();
      at::Tensor t = item.value().toTensor();
      if (key.rfind("model/", 0) == 0)
        params[key.substr(6)] = t;
      else if (key.rfind("optim/", 0) == 0)
        optim[key.substr(6)] = t;
      else if (key == "meta/rng")
        rng.cpu = t;
      else if (key == "meta/rng_cuda")
        rng.cuda = t;
      else if (key == "meta/buckets")
        buckets = t;
      else if (key == "meta/scaler_scale")
        scaler_scale = t;
      else if (key == "meta/scaler_growth")
        scaler_growth = t;
    }
  }));
  FABRIC_RETURN_IF_ERROR(strategy.LoadFullModelState(params));
  FABRIC_RETURN_IF_ERROR(strategy.LoadFullOptimizerState(optimizer, optim));
  if (buckets.defined()) {
    const int64_t* b = buckets.data_ptr<int64_t>();
    FABRIC_RETURN_IF_ERROR(
        strategy.recovery()->AdoptBucketLayout(std::vector<int64_t>(b, b + buckets.numel())));
  }
  if (scaler() != nullptr) {
    if (!scaler_scale.defined() || !scaler_growth.defined()) {
      return absl::FailedPreconditionError(absl::StrCat("in-place recovery: rank ", donor_.rank,
                                                        " sent no loss-scaler state (16-mixed)"));
    }
    FABRIC_RETURN_IF_ERROR(TorchCall(rank(), "restore the loss scaler",
                                     [&] { scaler()->SetState(scaler_scale, scaler_growth); }));
  }
  return RestoreRngStates(rank(), state_.device, rng);
}

absl::Status Recovery::ReceiveStateAsReplacement(Strategy& strategy,
                                                 torch::optim::Optimizer& optimizer) {
  InPlaceRecovery* rec = strategy.recovery();
  if (rec == nullptr) {
    return absl::FailedPreconditionError("in-place recovery: the first model cannot recover");
  }
  int64_t& steps_done = *state_.steps_done;
  steps_done = -1;
  FABRIC_RETURN_IF_ERROR(TransferState(strategy, optimizer));
  steps_done = donor_.steps;
  joined_at_step_ = steps_done;
  rec->SyncNextManually();
  std::fprintf(stderr,
               "fabric runtime: rank %d replaced a failed worker: joined re-formation %d at "
               "step %lld with rank %d's state\n",
               rank(), recovery_n_, static_cast<long long>(steps_done), donor_.rank);
  return absl::OkStatus();
}

absl::StatusOr<bool> Recovery::WaitForReplacementOrShrink(c10d::Store& store, int n) {
  RuntimeConfig& config = *state_.config;
  const absl::Time deadline = absl::Now() + config.recovery_timeout;
  for (;;) {
    FABRIC_ASSIGN_OR_RETURN(bool joined, TorchCall(rank(), "look for the replacement", [&] {
                              return store.check({JoinedKey(config.round, n)});
                            }));
    if (joined) return false;
    if (std::optional<ShrinkCommand> shrink = control_.ReadShrink()) {
      std::fprintf(stderr,
                   "fabric runtime: rank %d: the job goes on with %d ranks; this is rank %d\n",
                   rank(), shrink->world_size, shrink->rank);
      config.world_size = shrink->world_size;
      config.rank = shrink->rank;
      return true;
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("no replacement joined and fabric-run did not shrink the job within ",
                       absl::FormatDuration(config.recovery_timeout)));
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
}

absl::Status Recovery::RecoverInPlace(Strategy& strategy, torch::optim::Optimizer& optimizer,
                                      const absl::Status& failure, Point point) {
  const absl::Time start = absl::Now();
  InPlaceRecovery* rec = strategy.recovery();
  int64_t& steps_done = *state_.steps_done;
  c10::intrusive_ptr<c10d::Store> store = comm().base_store();
  rec->ForgetGroup();
  // Closing the failed group's connections makes the peers still blocked on this rank
  // fail at once too, rather than at their collective timeout.
  state_.comm->reset();
  const int n = recovery_n_ + 1;
  auto wrap = [&](const absl::Status& st) {
    return absl::Status(st.code(), absl::StrCat("in-place recovery ", n, " failed (", st.message(),
                                                ") after: ", failure.message()));
  };
  std::fprintf(
      stderr,
      "fabric runtime: rank %d: a peer failed during %s of step %lld; re-forming "
      "the group (recovery %d)\n",
      rank(),
      point == Point::kGradientSync ? "the gradient synchronisation" : "the buffers' broadcast",
      static_cast<long long>(steps_done), n);
  // Either a replacement joins (the store key), or fabric-run says the job goes on with
  // fewer ranks (the control FIFO: a node was lost).
  absl::StatusOr<bool> shrunk = WaitForReplacementOrShrink(*store, n);
  if (!shrunk.ok()) return wrap(shrunk.status());
  CommunicatorOptions co = CommOptions(launch_timeout_);
  co.base_store = store;
  co.recovery = n;
  absl::StatusOr<std::unique_ptr<Communicator>> comm = Communicator::Create(co);
  if (!comm.ok()) return wrap(comm.status());
  *state_.comm = std::move(*comm);
  recovery_n_ = n;
  absl::Status st = ElectDonor(steps_done);
  if (st.ok()) st = rec->Rebind(state_.comm->get());
  if (st.ok()) st = TransferState(strategy, optimizer);
  if (!st.ok()) return wrap(st);
  if (point == Point::kBeforeForward) {
    // Nobody can have finished the step this rank has not begun.
    if (steps_done != donor_.steps) {
      return wrap(absl::InternalError(absl::StrCat("rank ", donor_.rank, " is at step ",
                                                   donor_.steps, ", this rank at ", steps_done)));
    }
    rec->SyncNextManually();
  } else if (steps_done < donor_.steps) {
    // The others finished this step: their state includes its update.
    steps_done = donor_.steps;
    skip_next_step_ = true;
    rec->SyncNextManually();
  } else {
    st = rec->ResyncLocalGradients();
    if (!st.ok()) return wrap(st);
  }
  if (*shrunk) AckShrink();  // fabric-run waits for it (runtime/heartbeat.h)
  std::fprintf(stderr,
               "fabric runtime: rank %d: recovered in place (re-formation %d, state from rank "
               "%d at step %lld) in %.0f ms\n",
               rank(), n, donor_.rank, static_cast<long long>(donor_.steps),
               absl::ToDoubleMilliseconds(absl::Now() - start));
  return absl::OkStatus();
}

}  // namespace fabric::runtime
