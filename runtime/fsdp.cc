// FSDP strategy (fully sharded parameters, gradients and optimizer state): see
// strategy.h. The module's trainable parameters are grouped into units by the auto-wrap
// policy (FsdpOptions); each unit is one flat buffer sharded 1/W per rank.
// (One file over 500 lines: one Strategy whose units, hooks and state dicts share the
// flat-shard layout.)
#include <algorithm>
#include <cmath>
#include <deque>
#include <map>

#include "ATen/ATen.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "runtime/fsdp_unit.h"
#include "runtime/grad_norm.h"
#include "runtime/module_sync.h"
#include "runtime/sharding.h"
#include "runtime/strategy.h"
#include "runtime/torch_status.h"
#include "torch/autograd.h"
#include "torch/csrc/autograd/function_hook.h"
#include "torch/csrc/autograd/variable.h"
#include "torch/utils.h"

namespace fabric::runtime {
namespace {

int64_t NBytes(const at::Tensor& t) { return t.defined() ? t.numel() * t.element_size() : 0; }

struct ParamInfo {
  std::string name;
  at::Tensor param;  // the module's parameter (its data is freed between uses)
  std::vector<int64_t> shape;
  int64_t offset = 0;  // within its unit's flat buffer
  int64_t numel = 0;
};

// A group of parameters sharded together: one all-gather before forward, one
// reduce-scatter of its gradients as soon as all of them have arrived in backward.
struct Unit {
  std::string name;  // the submodule's path; "" for the root (what no unit claimed)
  const torch::nn::Module* module = nullptr;  // that submodule (null for the root)
  std::vector<ParamInfo> params;
  ShardLayout layout;
  at::Tensor shard;  // leaf, requires grad: what the optimizer steps (on the CPU if offloaded)
  // The full flat parameters. Its storage is allocated only while gathered (freed by
  // shrinking it to 0 bytes, so the views autograd saved in forward stay valid and see
  // the data again once a backward gather refills the same storage).
  at::Tensor full;
  at::Tensor staged;  // offload: the shard copied to the device for a running all-gather
  bool gathered = false;
  bool jit = false;         // its forward ran through RunUnit: gathered there, not before forward
  bool checkpoint = false;  // the checkpointing policy names its type (FsdpOptions)

  // Backward (reset by Finish): gradients arrived, and the running reduce-scatter.
  int ready = 0;
  at::Tensor flat_grad;  // the full gradients, flattened, while reduce-scattering
  at::Tensor grad_shard;
  std::unique_ptr<Communicator::Pending> pending;
};

class FsdpStrategy;

// Runs after a parameter's gradient was accumulated (autograd's post-accumulate hook):
// hands it to its unit, which launches the unit's reduce-scatter once all arrived.
class GradReadyHook : public torch::autograd::PostAccumulateGradHook {
 public:
  GradReadyHook(FsdpStrategy* strategy, size_t unit, size_t param)
      : strategy_(strategy), unit_(unit), param_(param) {}
  void operator()(const torch::autograd::Variable& tensor) override;

 private:
  FsdpStrategy* strategy_;
  size_t unit_;
  size_t param_;
};

// Frees / allocates a tensor's storage in place (same StorageImpl, so views stay views).
void FreeStorage(const at::Tensor& t) {
  c10::StorageImpl* s = t.storage().unsafeGetStorageImpl();
  s->set_data_ptr_noswap(at::DataPtr(nullptr, s->device()));
  s->set_nbytes(0);
}
void AllocStorage(const at::Tensor& t) {
  c10::StorageImpl* s = t.storage().unsafeGetStorageImpl();
  const size_t nbytes = static_cast<size_t>(t.numel()) * t.element_size();
  if (s->nbytes() == nbytes) return;
  s->set_data_ptr_noswap(s->allocator()->allocate(nbytes));
  s->set_nbytes(nbytes);
}

// A copy of device tensor `t` in pinned (page-locked) host memory. Not t.to(pinned cpu):
// a blocking Tensor::to gives pageable memory whatever the options say (ATen's
// _to_copy pins only for non_blocking copies). Pinned, the copies to and from the device
// run by DMA without a staging copy. The copy is synchronous (the host reads the result).
at::Tensor PinnedHostCopy(const at::Tensor& t) {
  at::Tensor out = at::empty(t.sizes(), t.options().device(at::kCPU).pinned_memory(true));
  out.copy_(t);
  return out;
}

class FsdpStrategy : public Strategy, public UnitRunner {
 public:
  FsdpStrategy(Communicator* comm, const FsdpOptions& options)
      : comm_(comm), rank_(comm->rank()), options_(options) {}

  ~FsdpStrategy() override {
    DeactivateUnitRunner(this);
    for (Unit& u : units_) {
      for (ParamInfo& p : u.params)
        torch::autograd::impl::set_post_acc_grad_hooks(p.param, nullptr);
    }
  }

  absl::StatusOr<std::vector<NamedTensor>> Setup(
      std::shared_ptr<torch::nn::Module> module) override {
    module_ = std::move(module);
    // Buffers (running statistics, masks) and frozen parameters are small or untrained:
    // every rank keeps them whole, rank 0's at setup.
    std::vector<at::Tensor> whole;
    for (auto& item : module_->named_buffers()) whole_.push_back({item.key(), item.value()});
    for (auto& item : module_->named_parameters()) {
      if (!item.value().requires_grad()) whole_.push_back({item.key(), item.value()});
    }
    for (auto& w : whole_) whole.push_back(w.tensor);
    FABRIC_RETURN_IF_ERROR(BroadcastFromRankZero(comm_, whole));
    FABRIC_RETURN_IF_ERROR(PlanUnits());
    std::vector<NamedTensor> out;
    for (size_t u = 0; u < units_.size(); ++u) {
      units_[u].jit = options_.just_in_time && units_[u].module != nullptr;
      FABRIC_RETURN_IF_ERROR(ShardUnit(units_[u]));
      out.push_back({units_[u].name.empty() ? "_flat_param" : units_[u].name + "._flat_param",
                     units_[u].shard});
      for (size_t i = 0; i < units_[u].params.size(); ++i) {
        torch::autograd::impl::set_post_acc_grad_hooks(units_[u].params[i].param,
                                                       std::make_unique<GradReadyHook>(this, u, i));
      }
    }
    FABRIC_RETURN_IF_ERROR(FreeFullParams());
    return out;
  }

  absl::Status PreForward(bool sync) override {
    reduce_in_backward_ = sync;
    ActivateUnitRunner(this);  // RunUnit finds this model's units until PostForward
    // The units not gathered just in time (RunUnit) are gathered now. Prefetch: up to
    // kMaxInFlight all-gathers run ahead of the one being waited for (the backend's
    // staging buffers for every unit at once would cost a model's worth of memory).
    std::vector<size_t> todo;
    for (size_t k = 0; k < units_.size(); ++k) {
      if (!units_[k].jit && !units_[k].gathered) todo.push_back(k);
    }
    std::vector<std::unique_ptr<Communicator::Pending>> gathers(todo.size());
    auto start = [&](size_t i) -> absl::Status {
      if (i >= todo.size()) return absl::OkStatus();
      FABRIC_ASSIGN_OR_RETURN(gathers[i], StartGather(units_[todo[i]]));
      return absl::OkStatus();
    };
    for (size_t i = 0; i < kMaxInFlight; ++i) FABRIC_RETURN_IF_ERROR(start(i));
    for (size_t i = 0; i < todo.size(); ++i) {
      FABRIC_RETURN_IF_ERROR(start(i + kMaxInFlight));
      FABRIC_RETURN_IF_ERROR(FinishGather(units_[todo[i]], gathers[i].get()));
      gathers[i].reset();
    }
    return absl::OkStatus();
  }

  // UnitRunner (fsdp_unit.h): `module`'s unit gathered for `f` only, and again for its
  // backward (through a gate on f's output, or the checkpoint's recomputation).
  std::optional<at::Tensor> RunIfUnit(const torch::nn::Module& module, const at::Tensor& input,
                                      const UnitForward& f) override {
    std::vector<size_t> ks;  // the module's units (several when its dtypes differ)
    for (size_t k = 0; k < units_.size(); ++k) {
      if (units_[k].module == &module) ks.push_back(k);
    }
    if (ks.empty()) return std::nullopt;
    bool checkpoint = false;
    for (size_t k : ks) {
      units_[k].jit = true;
      checkpoint |= units_[k].checkpoint;
      if (!order_known_) forward_order_.push_back(k);
    }
    // Gathers the module's units and starts the all-gather of the unit that runs after
    // them (`step` +1 in forward order, -1 in backward), so that it overlaps their
    // computation.
    auto gather = [this, ks](int step) {
      absl::Status g;
      for (size_t k : ks) {
        if (g.ok()) g = Gather(units_[k]);
      }
      for (size_t k : ks) {
        if (g.ok()) g = Prefetch(k, step);
      }
      TORCH_CHECK(g.ok(), g.ToString());
    };
    gather(+1);
    auto regather = [gather] { gather(-1); };
    at::Tensor out;
    if (checkpoint && at::GradMode::is_enabled()) {
      out = Checkpointed(input, f, regather);
    } else {
      out = f(input);
      if (out.requires_grad()) out = BackwardGate(out, regather);
    }
    for (size_t k : ks) Release(units_[k]);
    return out;
  }

  absl::Status PostForward(const std::vector<at::Tensor>&, bool) override {
    DeactivateUnitRunner(this);
    if (!forward_order_.empty()) order_known_ = true;
    return DrainPrefetches();  // one started after the last unit ran is not needed now
  }

  // Called by GradReadyHook inside backward; throws (a c10::Error, which backward turns
  // into its own exception and Fabric::Backward into a Status) when a collective fails.
  void OnGradReady(size_t unit, size_t param) {
    if (!reduce_in_backward_) return;  // no-sync: the full gradients accumulate
    Unit& u = units_[unit];
    ParamInfo& p = u.params[param];
    if (!u.flat_grad.defined()) u.flat_grad = at::zeros({u.layout.padded}, u.full.options());
    u.flat_grad.narrow(0, p.offset, p.numel).copy_(p.param.grad().reshape({-1}));
    p.param.mutable_grad() = at::Tensor();  // the unit holds it now: freed
    if (++u.ready < static_cast<int>(u.params.size())) return;
    // Every gradient of the unit is here: its backward is over. Reduce-scatter now, while
    // the rest of backward runs, and free the unit's full parameters. At most
    // kMaxInFlight flattened gradients wait for their reduce-scatter: beyond that the
    // oldest is finished first, so a slow network bounds memory, not backward's speed.
    absl::Status s = LaunchReduceScatter(u);
    TORCH_CHECK(s.ok(), s.ToString());
    in_flight_.push_back(unit);
    Release(u);
    while (in_flight_.size() > kMaxInFlight) {
      s = FinishOldest();
      TORCH_CHECK(s.ok(), s.ToString());
    }
  }

  absl::Status PostBackward(bool sync) override {
    if (!sync) return absl::OkStatus();  // full gradients accumulate until the next sync
    for (Unit& u : units_) {
      if (u.pending == nullptr) {
        // Some parameter of the unit got no gradient in this backward (or the hooks were
        // off for an accumulation): reduce what there is, zeros for the rest.
        FABRIC_RETURN_IF_ERROR(TorchCall(rank_, "flatten gradients", [&] {
          if (!u.flat_grad.defined()) {
            u.flat_grad = at::zeros({u.layout.padded}, u.full.options());
          }
          for (ParamInfo& p : u.params) {
            if (p.param.grad().defined()) {
              u.flat_grad.narrow(0, p.offset, p.numel).copy_(p.param.grad().reshape({-1}));
            }
          }
        }));
        FABRIC_RETURN_IF_ERROR(LaunchReduceScatter(u));
        in_flight_.push_back(&u - units_.data());
      }
    }
    while (!in_flight_.empty()) FABRIC_RETURN_IF_ERROR(FinishOldest());
    FABRIC_RETURN_IF_ERROR(DrainPrefetches());
    for (Unit& u : units_) u.ready = 0;
    // The full parameters are not needed again before the next forward, which gathers
    // them from the (possibly updated) shards.
    return FreeFullParams();
  }

  absl::Status PostStep() override { return FreeFullParams(); }

  absl::Status ZeroGrad() override {
    return TorchCall(rank_, "zero_grad", [&] {
      for (Unit& u : units_) {
        u.shard.mutable_grad() = at::Tensor();
        for (ParamInfo& p : u.params) p.param.mutable_grad() = at::Tensor();
      }
    });
  }

  absl::StatusOr<double> ClipGradNorm(double max_norm) override {
    FABRIC_ASSIGN_OR_RETURN(
        at::Tensor sumsq, TorchCall(rank_, "gradient norm", [&] {
          // Foreach kernels over the shards (grad_norm.h), the sum moved to the
          // communication device (offloaded gradients are on the host; NCCL is not).
          return SquaredNormOf(ShardGrads()).to(units_[0].full.device());
        }));
    FABRIC_RETURN_IF_ERROR(comm_->AllReduce(sumsq, ReduceOp::kSum));
    return TorchCall(rank_, "clip gradients", [&] {
      const double norm = std::sqrt(sumsq.item<double>());  // the one host synchronisation
      ScaleInPlace(ShardGrads(), ClipCoefficient(norm, max_norm));
      return norm;
    });
  }

  MemoryStats Memory(torch::optim::Optimizer& optimizer) override {
    MemoryStats m;
    for (Unit& u : units_) {
      m.param_bytes += NBytes(u.shard);
      m.grad_bytes += NBytes(u.shard.grad());
      if (u.gathered) m.param_bytes += NBytes(u.full);
      for (ParamInfo& p : u.params) m.grad_bytes += NBytes(p.param.grad());
    }
    m.optimizer_state_bytes = OptimizerStateBytes(optimizer);
    return m;
  }

  absl::StatusOr<TensorMap> FullModelState(FullStateOn on) override {
    const bool keep = on == FullStateOn::kEveryRank || rank_ == 0;
    TensorMap out;
    for (Unit& u : units_) {
      // One unit at a time; a rank that keeps nothing frees it before the next.
      FABRIC_ASSIGN_OR_RETURN(at::Tensor full, GatherFlat(u, u.shard.detach()));
      if (!keep) continue;
      FABRIC_ASSIGN_OR_RETURN(TensorMap part, Split(u, full, ""));
      out.insert(part.begin(), part.end());
    }
    if (keep) {
      for (auto& w : whole_) out[w.name] = w.tensor.detach();
    }
    return out;
  }

  absl::Status LoadFullModelState(const TensorMap& state) override {
    FABRIC_RETURN_IF_ERROR(TorchCall(rank_, "load buffers", [&]() -> absl::Status {
      for (auto& w : whole_) FABRIC_RETURN_IF_ERROR(CopyNamed(state, w.name, w.tensor));
      return absl::OkStatus();
    }));
    for (Unit& u : units_) {
      FABRIC_ASSIGN_OR_RETURN(at::Tensor mine, ShardOf(u, state, ""));
      FABRIC_RETURN_IF_ERROR(TorchCall(rank_, "load model shard", [&] {
        torch::NoGradGuard no_grad;
        u.shard.copy_(mine);
      }));
    }
    return FreeFullParams();
  }

  absl::StatusOr<TensorMap> FullOptimizerState(torch::optim::Optimizer& optimizer,
                                               FullStateOn on) override {
    const bool keep = on == FullStateOn::kEveryRank || rank_ == 0;
    TensorMap out;
    for (Unit& u : units_) {
      FABRIC_ASSIGN_OR_RETURN(TensorMap shard_state, GetParamState(optimizer, u.shard));
      for (auto& [key, t] : shard_state) {
        if (key == "step") {
          if (keep) {
            for (auto& p : u.params) out[absl::StrCat(p.name, "/step")] = t;
          }
          continue;
        }
        FABRIC_ASSIGN_OR_RETURN(at::Tensor full, GatherFlat(u, t));
        if (!keep) continue;
        FABRIC_ASSIGN_OR_RETURN(TensorMap pieces, Split(u, full, "/" + key));
        out.insert(pieces.begin(), pieces.end());
      }
    }
    return out;
  }

  absl::StatusOr<TensorMap> LocalShardState(torch::optim::Optimizer& optimizer) override {
    TensorMap out;
    for (auto& w : whole_) out["model/" + w.name] = w.tensor.detach();
    for (Unit& u : units_) {
      const std::string base = absl::StrCat("fsdp/", u.name.empty() ? "_root" : u.name, "/");
      out[base + "layout"] = at::tensor(std::vector<int64_t>{u.layout.total, u.layout.padded,
                                                             u.layout.shard_size, u.layout.world},
                                        at::kLong);
      for (ParamInfo& p : u.params) {
        std::vector<int64_t> place{p.offset, p.numel};
        place.insert(place.end(), p.shape.begin(), p.shape.end());
        out[base + "param/" + p.name] = at::tensor(place, at::kLong);
      }
      out[base + "flat"] = u.shard.detach();
      FABRIC_ASSIGN_OR_RETURN(TensorMap state, GetParamState(optimizer, u.shard));
      for (auto& [key, t] : state) out[base + "optim/" + key] = t;
    }
    return out;
  }

  absl::Status LoadFullOptimizerState(torch::optim::Optimizer& optimizer,
                                      const TensorMap& state) override {
    for (Unit& u : units_) {
      // The keys present for the unit's first parameter are the keys of its state.
      TensorMap s;
      const std::string prefix = u.params[0].name + "/";
      for (auto it = state.lower_bound(prefix);
           it != state.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
        const std::string key = it->first.substr(prefix.size());
        if (key == "step") {
          s["step"] = it->second;
          continue;
        }
        FABRIC_ASSIGN_OR_RETURN(s[key], ShardOf(u, state, "/" + key));
      }
      FABRIC_RETURN_IF_ERROR(TorchCall(rank_, "load optimizer shard",
                                       [&] { return SetParamState(optimizer, u.shard, s); }));
    }
    return absl::OkStatus();
  }

 private:
  // The dtype a unit whose shard is `shard_dtype` is gathered and reduced in.
  at::ScalarType GatherDtype(at::ScalarType shard_dtype) const {
    return options_.bf16_gather && shard_dtype == at::kFloat ? at::kBFloat16 : shard_dtype;
  }

  // Every unit's shard gradient (undefined where it has none), for grad_norm.h.
  std::vector<at::Tensor> ShardGrads() const {
    std::vector<at::Tensor> grads;
    for (const Unit& u : units_) grads.push_back(u.shard.grad());
    return grads;
  }

  // The auto-wrap policy: a submodule whose type name contains one of unit_types, or
  // with at least unit_min_params trainable parameters, is a unit unless an enclosing
  // one is already; its parameters are those not claimed by a unit inside it. What no
  // unit claims forms the root unit.
  absl::Status PlanUnits() {
    std::vector<std::string> unit_paths;
    for (const auto& item : module_->named_modules("", /*include_self=*/false)) {
      const std::string& path = item.key();
      bool inside = false;
      for (const std::string& u : unit_paths) inside |= absl::StartsWith(path, u + ".");
      if (inside) continue;
      bool match = false;
      for (const std::string& t : options_.unit_types) {
        match |= absl::StrContains(item.value()->name(), t);
      }
      if (!match && options_.unit_min_params > 0) {
        int64_t n = 0;
        for (auto& p : item.value()->parameters()) n += p.requires_grad() ? p.numel() : 0;
        match = n >= options_.unit_min_params;
      }
      if (match) unit_paths.push_back(path);
    }
    Unit root;
    std::vector<Unit> units(unit_paths.size());
    for (size_t k = 0; k < unit_paths.size(); ++k) units[k].name = unit_paths[k];
    for (const auto& item : module_->named_modules("", /*include_self=*/false)) {
      for (size_t k = 0; k < unit_paths.size(); ++k) {
        if (item.key() != unit_paths[k]) continue;
        units[k].module = item.value().get();
        for (const std::string& t : options_.checkpoint_types) {
          units[k].checkpoint |= absl::StrContains(item.value()->name(), t);
        }
      }
    }
    for (auto& item : module_->named_parameters()) {
      if (!item.value().requires_grad()) continue;
      Unit* owner = &root;
      for (size_t k = 0; k < unit_paths.size(); ++k) {
        if (absl::StartsWith(item.key(), unit_paths[k] + ".")) owner = &units[k];
      }
      ParamInfo info;
      info.name = item.key();
      info.param = item.value();
      info.shape = item.value().sizes().vec();
      info.numel = item.value().numel();
      owner->params.push_back(std::move(info));
    }
    // One flat shard holds one dtype on one device: a unit whose parameters mix them
    // becomes one unit per (dtype, device), in order of first appearance, sharing its
    // module (RunUnit gathers them together); the first keeps the unit's name, the others
    // are "<name>#<dtype>" (sharded checkpoints name units).
    auto add = [this](Unit& u) {
      std::vector<Unit> groups;
      for (ParamInfo& p : u.params) {
        Unit* g = nullptr;
        for (Unit& x : groups) {
          if (x.params[0].param.scalar_type() == p.param.scalar_type() &&
              x.params[0].param.device() == p.param.device()) {
            g = &x;
          }
        }
        if (g == nullptr) {
          groups.emplace_back();
          g = &groups.back();
          g->module = u.module;
          g->checkpoint = u.checkpoint;
          g->name =
              groups.size() == 1
                  ? u.name
                  : absl::StrCat(u.name, "#", c10::toString(p.param.scalar_type()),
                                 p.param.device().is_cpu() ? "" : "@" + p.param.device().str());
        }
        g->params.push_back(std::move(p));
      }
      for (Unit& g : groups) units_.push_back(std::move(g));
    };
    for (Unit& u : units) add(u);
    add(root);
    if (units_.empty()) {
      return absl::InvalidArgumentError("fsdp: the module has no trainable parameters");
    }
    return absl::OkStatus();
  }

  absl::Status ShardUnit(Unit& u) {
    int64_t offset = 0;
    for (ParamInfo& p : u.params) {
      p.offset = offset;
      offset += p.numel;
    }
    u.layout = MakeShardLayout(offset, comm_->world_size());
    const auto options = u.params[0].param.options().requires_grad(false);
    FABRIC_ASSIGN_OR_RETURN(
        at::Tensor flat, TorchCall(rank_, "flatten parameters", [&] {
          at::Tensor f = at::zeros({u.layout.padded}, options);
          for (ParamInfo& p : u.params) {
            f.narrow(0, p.offset, p.numel).copy_(p.param.detach().reshape({-1}));
          }
          return f;
        }));
    FABRIC_RETURN_IF_ERROR(comm_->Broadcast(flat, 0));
    return TorchCall(rank_, "shard parameters", [&] {
      u.shard = flat.narrow(0, u.layout.Begin(rank_), u.layout.shard_size).clone();
      if (options_.cpu_offload && !flat.device().is_cpu()) u.shard = PinnedHostCopy(u.shard);
      u.shard.set_requires_grad(true);
      u.full = at::empty({u.layout.padded}, options.dtype(GatherDtype(u.shard.scalar_type())));
      FreeStorage(u.full);
      // The module's own copies are freed: from now on its parameters are views of
      // `full` while the unit is gathered, empty otherwise.
      for (ParamInfo& p : u.params) p.param.set_data(at::empty({0}, options));
    });
  }

  // Waits for the oldest running reduce-scatter and adds its result to the unit's shard
  // gradient (averaged), freeing the unit's flattened full gradients.
  absl::Status FinishOldest() {
    Unit& u = units_[in_flight_.front()];
    in_flight_.pop_front();
    FABRIC_RETURN_IF_ERROR(u.pending->Wait());
    return TorchCall(rank_, "accumulate gradient shard", [&] {
      // bf16_gather: reduced in bfloat16; averaged and handed on in the shard's dtype.
      if (u.grad_shard.scalar_type() != u.shard.scalar_type()) {
        u.grad_shard = u.grad_shard.to(u.shard.scalar_type());
      }
      u.grad_shard.div_(comm_->world_size());
      if (u.grad_shard.device() != u.shard.device()) {
        // Offloaded: the host's copy of the gradient in pinned memory too.
        u.grad_shard = u.shard.device().is_cpu() ? PinnedHostCopy(u.grad_shard)
                                                 : u.grad_shard.to(u.shard.device());
      }
      if (u.shard.grad().defined()) {
        u.shard.mutable_grad().add_(u.grad_shard);
      } else {
        u.shard.mutable_grad() = u.grad_shard;
      }
      u.pending.reset();
      u.grad_shard = at::Tensor();
      u.flat_grad = at::Tensor();
    });
  }

  absl::Status LaunchReduceScatter(Unit& u) {
    FABRIC_ASSIGN_OR_RETURN(u.grad_shard, TorchCall(rank_, "allocate a gradient shard", [&] {
                              return at::empty({u.layout.shard_size}, u.flat_grad.options());
                            }));
    FABRIC_ASSIGN_OR_RETURN(u.pending, comm_->StartReduceScatter(u.flat_grad, u.grad_shard));
    return absl::OkStatus();
  }

  absl::Status FreeFullParams() {
    return TorchCall(rank_, "free full parameters", [&] {
      for (Unit& u : units_) {
        Release(u);
        for (ParamInfo& p : u.params) p.param.mutable_grad() = at::Tensor();
      }
    });
  }

  // Starts gathering `u` into its full buffer (allocated now); FinishGather waits for it
  // and makes the module's parameters views of it. Null when `u` is gathered already.
  absl::StatusOr<std::unique_ptr<Communicator::Pending>> StartGather(Unit& u) {
    if (u.gathered) return nullptr;
    FABRIC_RETURN_IF_ERROR(TorchCall(rank_, "allocate a unit", [&] {
      AllocStorage(u.full);
      // Offloaded: the shard goes to the device first (kept until FinishGather). The copy
      // is synchronous: the host may change the shard (optimizer step, load) as soon as
      // this returns, and a collective's Wait does not wait on the host's side.
      u.staged = u.shard.device() == u.full.device() ? u.shard.detach()
                                                     : u.shard.detach().to(u.full.device());
      // bf16_gather: the all-gather moves bfloat16 (cast on the device).
      if (u.staged.scalar_type() != u.full.scalar_type()) {
        u.staged = u.staged.to(u.full.scalar_type());
      }
    }));
    return comm_->StartAllGather(u.staged, u.full);
  }
  absl::Status FinishGather(Unit& u, Communicator::Pending* pending) {
    if (pending == nullptr) return absl::OkStatus();
    FABRIC_RETURN_IF_ERROR(pending->Wait());
    return TorchCall(rank_, "materialize parameters", [&] {
      u.staged = at::Tensor();
      for (ParamInfo& p : u.params) {
        p.param.set_data(u.full.narrow(0, p.offset, p.numel).view(p.shape));
      }
      u.gathered = true;
    });
  }
  absl::Status Gather(Unit& u) {
    auto it = prefetched_.find(static_cast<size_t>(&u - units_.data()));
    if (it != prefetched_.end()) {  // started by Prefetch: wait for it
      std::unique_ptr<Communicator::Pending> pending = std::move(it->second);
      prefetched_.erase(it);
      return FinishGather(u, pending.get());
    }
    FABRIC_ASSIGN_OR_RETURN(std::unique_ptr<Communicator::Pending> pending, StartGather(u));
    return FinishGather(u, pending.get());
  }
  // Starts gathering the unit `step` places after unit k in the (first step's) forward
  // order, when there is one, it runs just in time and is neither gathered nor coming.
  // Every rank runs the same units in the same order, so the collectives line up.
  absl::Status Prefetch(size_t k, int step) {
    if (!order_known_) return absl::OkStatus();
    auto pos = std::find(forward_order_.begin(), forward_order_.end(), k);
    if (pos == forward_order_.end()) return absl::OkStatus();
    const ptrdiff_t next = (pos - forward_order_.begin()) + step;
    if (next < 0 || next >= static_cast<ptrdiff_t>(forward_order_.size())) return absl::OkStatus();
    const size_t n = forward_order_[static_cast<size_t>(next)];
    Unit& u = units_[n];
    if (!u.jit || u.gathered || prefetched_.count(n) > 0) return absl::OkStatus();
    FABRIC_ASSIGN_OR_RETURN(prefetched_[n], StartGather(u));
    ++prefetches_;
    return absl::OkStatus();
  }
  // Waits for the prefetches nobody used and frees what they gathered.
  absl::Status DrainPrefetches() {
    for (auto& [n, pending] : prefetched_) {
      FABRIC_RETURN_IF_ERROR(FinishGather(units_[n], pending.get()));
      Release(units_[n]);
    }
    prefetched_.clear();
    return absl::OkStatus();
  }
  // Frees `u`'s full parameters: the module's parameters become empty tensors (a use
  // while freed fails cleanly) and the full buffer's storage is released.
  void Release(Unit& u) {
    if (!u.gathered) return;
    // Released, a parameter shows the shard's dtype (bf16_gather: float32, its master
    // copy's), not the gathered one.
    for (ParamInfo& p : u.params) {
      p.param.set_data(at::empty({0}, u.full.options().dtype(u.shard.scalar_type())));
    }
    FreeStorage(u.full);
    u.gathered = false;
  }

  // The unit's full flat tensor gathered from each rank's `local` slice, on the
  // communication device (an offloaded slice is copied there first).
  absl::StatusOr<at::Tensor> GatherFlat(Unit& u, const at::Tensor& local) {
    at::Tensor src, full;
    FABRIC_RETURN_IF_ERROR(TorchCall(rank_, "allocate a unit", [&] {
      src = local.detach().to(u.full.device());
      full = at::empty({u.layout.padded}, src.options().requires_grad(false));
    }));
    FABRIC_ASSIGN_OR_RETURN(auto g, comm_->StartAllGather(src, full));
    FABRIC_RETURN_IF_ERROR(g->Wait());
    return full;
  }

  // Named views of a unit's full flat tensor: "<name><suffix>".
  absl::StatusOr<TensorMap> Split(Unit& u, const at::Tensor& full, const std::string& suffix) {
    return TorchCall(rank_, "split flat tensor", [&] {
      TensorMap out;
      for (auto& p : u.params) {
        out[p.name + suffix] = full.narrow(0, p.offset, p.numel).view(p.shape).clone();
      }
      return out;
    });
  }

  // This rank's slice of the unit's flat tensor assembled from "<name><suffix>" entries.
  absl::StatusOr<at::Tensor> ShardOf(Unit& u, const TensorMap& state, const std::string& suffix) {
    return TorchCall(rank_, "reshard", [&]() -> absl::StatusOr<at::Tensor> {
      at::Tensor flat = at::zeros({u.layout.padded}, u.shard.options().requires_grad(false));
      for (auto& p : u.params) {
        auto it = state.find(p.name + suffix);
        if (it == state.end()) {
          return absl::NotFoundError(
              absl::StrCat("checkpoint has no tensor '", p.name, suffix, "'"));
        }
        if (it->second.numel() != p.numel) {
          return absl::InvalidArgumentError(
              absl::StrCat("checkpoint tensor '", p.name, suffix, "' has ", it->second.numel(),
                           " elements but the model's parameter has ", p.numel));
        }
        flat.narrow(0, p.offset, p.numel).copy_(it->second.reshape({-1}));
      }
      return flat.narrow(0, u.layout.Begin(rank_), u.layout.shard_size).clone();
    });
  }

  Communicator* comm_;
  int rank_;
  FsdpOptions options_;
  std::shared_ptr<torch::nn::Module> module_;
  std::vector<Unit> units_;         // the trainable parameters, sharded per unit
  std::vector<NamedTensor> whole_;  // buffers and frozen parameters, whole on every rank
  static constexpr size_t kMaxInFlight = 2;
  // Just-in-time units in the order the first forward ran them (prefetch order).
  std::vector<size_t> forward_order_;
  bool order_known_ = false;
  std::map<size_t, std::unique_ptr<Communicator::Pending>> prefetched_;
  int64_t prefetches_ = 0;
  std::deque<size_t> in_flight_;    // units whose reduce-scatter runs, oldest first
  bool reduce_in_backward_ = true;  // false inside a no-backward-sync scope
};

void GradReadyHook::operator()(const torch::autograd::Variable&) {
  strategy_->OnGradReady(unit_, param_);
}

}  // namespace

std::unique_ptr<Strategy> MakeFsdpStrategy(Communicator* comm, const FsdpOptions& options) {
  return std::make_unique<FsdpStrategy>(comm, options);
}

}  // namespace fabric::runtime
