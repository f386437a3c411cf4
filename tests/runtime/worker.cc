// The worker process of the multi-rank runtime tests: started N times by spawn.cc with
// the worker environment, it runs one scenario (argv[1]) through fabric::runtime and
// prints result lines that the tests parse. Exit 0: the scenario's own checks passed.
//
//   collectives                       AllReduce/AllGather/Broadcast/Barrier/ReduceScatter
//   equiv strategy=ddp|fsdp|fsdp_cpu_offload optim=sgd|adam steps=N accum=K [jit=1]
//                                     trains and compares with a single process on the
//                                     concatenated batch (max |diff| <= 1e-5); jit=1: the
//                                     layers' forwards go through RunUnit (checkpoint=
//                                     Linear: checkpointed); prints the parameter bytes
//                                     held right after the last forward and the calls of
//                                     the units' forwards, and PLACEMENT: the devices of
//                                     the optimizer's tensors and their gradients (pinned=1:
//                                     the tensor is in pinned host memory)
//   train strategy=.. steps=N save=PATH save_at=S [sharded=1] resume=PATH [rng_on_device=1]
//                                     prints "LOSS <step> <value>" and "RNG <value>" (a
//                                     draw after the save and after the load; from the
//                                     device's generator with rng_on_device=1)
//   crash_save path=PATH              saves, then dies inside the second save
//   check_ckpt path=PATH              loads, prints "STEP <n>"
//   conflict strategy=..              FabricOptions vs LT_*: prints "ERROR ..." exit 3
//   parity strategy=.. init=PATH ref=PATH steps=N
//                                     from torch_reference.py's initial weights, the same
//                                     steps; compared with torch's own DDP/FSDP2 result
//   two_models strategy=.. steps=N    two models on one Fabric (body with a frozen layer,
//                                     head on its detached output) vs one process
//   unused strategy=ddp|ddp_find_unused_parameters_true
//                                     a parameter the forward never uses, one frozen
//   count_collectives strategy=.. accum=K
//                                     c10d collectives inside / outside NoBackwardSync
//   die_mid_collective victim=R after=N timeout_s=T [on_device=1]
//                                     rank R SIGKILLs itself mid-loop; survivors print
//                                     "SURVIVOR ..." with how long the error took, exit 5
//                                     (over NCCL, on_device=1: no error comes back; the
//                                     watchdog ends the survivors after timeout_s)
//   precision p=NAME strategy=.. steps=N [init_scale=S growth_interval=K]
//                                     trains in that precision, prints PRECISION/SCALES
//   absent_rank0                      rank 0 never starts the store: rank 1's Launch fails
// (One file over 500 lines: every scenario of the multi-rank runtime tests lives in this
// one worker binary, so that one build serves them all.)
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include "ATen/CPUGeneratorImpl.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "runtime/fabric.h"
#include "runtime/fsdp_unit.h"
#include "runtime/heartbeat.h"
#include "torch/torch.h"

namespace fabric::runtime {
namespace {

using Args = std::map<std::string, std::string>;

struct MlpImpl : torch::nn::Module {
  MlpImpl() {
    fc1 = register_module("fc1", torch::nn::Linear(8, 16));
    fc2 = register_module("fc2", torch::nn::Linear(16, 4));
    // A buffer drawn from the (rank-dependent) seed: only rank 0's broadcast at Setup
    // makes the ranks agree with the reference.
    in_scale = register_buffer("in_scale", torch::rand({8}) + 0.5);
  }
  at::Tensor forward(const at::Tensor& x) {
    if (!jit) return fc2(torch::tanh(fc1(x * in_scale)));
    // Each layer's forward through RunUnit: under FSDP with units=Linear, gathered just in
    // time (runtime/fsdp_unit.h).
    at::Tensor h = RunUnit(*fc1, x * in_scale, [l = fc1.get(), this](const at::Tensor& in) {
      ++unit_calls;
      return l->forward(in);
    });
    return RunUnit(*fc2, torch::tanh(h), [l = fc2.get(), this](const at::Tensor& in) {
      ++unit_calls;
      return l->forward(in);
    });
  }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  at::Tensor in_scale;
  bool jit = false;
  int unit_calls = 0;  // calls of the units' forwards (twice per step when checkpointed)
};
TORCH_MODULE(Mlp);

constexpr int kGlobalBatch = 12;  // divisible by 1, 2, 3 and 4

// The global batch of micro-step `s`: the same on every rank and in the reference.
std::pair<at::Tensor, at::Tensor> GlobalBatch(int s) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1000 + s);
  at::Tensor x = at::randn({kGlobalBatch, 8}, gen);
  at::Tensor y = at::randn({kGlobalBatch, 4}, gen);
  return {x, y};
}

std::pair<at::Tensor, at::Tensor> LocalBatch(int s, int rank, int world) {
  auto [x, y] = GlobalBatch(s);
  int64_t n = kGlobalBatch / world;
  return {x.narrow(0, rank * n, n), y.narrow(0, rank * n, n)};
}

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const std::string& kind,
                                                       std::vector<at::Tensor> params) {
  if (kind == "sgd") {
    return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(0.1).momentum(0.9));
  }
  return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(0.01));
}

std::string Get(const Args& a, const std::string& k, const std::string& d) {
  auto it = a.find(k);
  return it == a.end() ? d : it->second;
}
int GetInt(const Args& a, const std::string& k, int d) {
  int v = d;
  auto it = a.find(k);
  if (it != a.end()) absl::SimpleAtoi(it->second, &v);
  return v;
}

// One optimizer step over `accum` micro-batches; returns the global mean loss.
// `before_step`, when set, receives the memory held after backward (gradients
// synced, before the optimizer step).
// `after_forward`, when set, receives the memory held right after the last forward.
absl::StatusOr<double> TrainStep(Fabric& f, Mlp& model, int step, int accum,
                                 MemoryStats* before_step = nullptr,
                                 MemoryStats* after_forward = nullptr,
                                 std::string* grad_device = nullptr) {
  double local = 0;
  for (int m = 0; m < accum; ++m) {
    auto [x_cpu, y_cpu] = LocalBatch(step * accum + m, f.rank(), f.world_size());
    FABRIC_ASSIGN_OR_RETURN(at::Tensor x, f.ToDevice(x_cpu));
    FABRIC_ASSIGN_OR_RETURN(at::Tensor y, f.ToDevice(y_cpu));
    std::optional<Fabric::NoSyncGuard> no_sync;
    if (m + 1 < accum) no_sync.emplace(&f);
    FABRIC_ASSIGN_OR_RETURN(at::Tensor loss,
                            f.Forward([&] { return torch::mse_loss(model->forward(x), y); }));
    if (after_forward != nullptr) *after_forward = f.Memory();
    FABRIC_RETURN_IF_ERROR(f.Backward(loss));
    local += loss.item<double>();
  }
  if (before_step != nullptr) *before_step = f.Memory();
  if (grad_device != nullptr) {  // the optimizer's first gradient, as its step sees it
    const at::Tensor& g = f.optimizer()->param_groups()[0].params()[0].grad();
    *grad_device = g.defined() ? g.device().str() : "none";
  }
  FABRIC_RETURN_IF_ERROR(f.Step());
  FABRIC_ASSIGN_OR_RETURN(at::Tensor mean,
                          f.AllReduce(at::full({1}, local / accum, at::kDouble), ReduceOp::kMean));
  return mean.item<double>();
}

// FabricOptions from the scenario's arguments: strategy=, accelerator=, backend=,
// units=<type,type> and unit_min_params=N (FSDP's auto-wrap policy).
FabricOptions OptionsFrom(const Args& a) {
  FabricOptions o;
  if (a.count("strategy")) o.strategy = a.at("strategy");
  if (a.count("accelerator")) o.accelerator = a.at("accelerator");
  if (a.count("backend")) o.process_group_backend = a.at("backend");
  if (a.count("units")) o.fsdp.unit_types = absl::StrSplit(a.at("units"), ',');
  if (a.count("checkpoint")) o.fsdp.checkpoint_types = absl::StrSplit(a.at("checkpoint"), ',');
  o.fsdp.just_in_time = Get(a, "just_in_time", "0") == "1";
  o.fsdp.unit_min_params = GetInt(a, "unit_min_params", 0);
  return o;
}

absl::StatusOr<std::unique_ptr<Fabric>> Start(const Args& a) {
  FabricOptions o = OptionsFrom(a);
  FABRIC_ASSIGN_OR_RETURN(auto f, Fabric::Create(o));
  FABRIC_RETURN_IF_ERROR(f->Launch(absl::Seconds(GetInt(a, "timeout_s", 60))));
  return f;
}

absl::Status Fail(const std::string& what) { return absl::InternalError(what); }

absl::Status Collectives(const Args& a) {
  FABRIC_ASSIGN_OR_RETURN(auto f, Start(a));
  const int w = f->world_size(), r = f->rank();
  FABRIC_ASSIGN_OR_RETURN(at::Tensor sum, f->AllReduce(at::full({3}, r + 1.0), ReduceOp::kSum));
  if (!at::allclose(sum, at::full({3}, w * (w + 1) / 2.0))) return Fail("allreduce sum");
  FABRIC_ASSIGN_OR_RETURN(at::Tensor mean, f->AllReduce(at::full({2}, 1.0 * r)));
  if (!at::allclose(mean, at::full({2}, (w - 1) / 2.0))) return Fail("allreduce mean");
  FABRIC_ASSIGN_OR_RETURN(at::Tensor mx, f->AllReduce(at::full({1}, 1.0 * r), ReduceOp::kMax));
  if (mx.item<double>() != w - 1) return Fail("allreduce max");
  FABRIC_ASSIGN_OR_RETURN(at::Tensor g, f->AllGather(torch::tensor({1.0 * r, 10.0 * r})));
  for (int q = 0; q < w; ++q) {
    if (g[q][0].item<double>() != q || g[q][1].item<double>() != 10.0 * q) {
      return Fail(absl::StrCat("allgather row ", q));
    }
  }
  const int root = w - 1;
  FABRIC_ASSIGN_OR_RETURN(at::Tensor b, f->Broadcast(at::full({4}, 100.0 + r), root));
  if (!at::allclose(b, at::full({4}, 100.0 + root))) return Fail("broadcast");
  // Reduce-scatter: rank q contributes arange(3w) + 1000 q; rank r gets its 3 sums.
  at::Tensor in = at::arange(3 * w, at::kFloat) + 1000.0 * r;
  FABRIC_ASSIGN_OR_RETURN(at::Tensor rs, f->communicator()->ReduceScatter(in));
  at::Tensor expected = at::arange(3 * r, 3 * r + 3, at::kFloat) * w + 1000.0 * w * (w - 1) / 2;
  if (!at::allclose(rs, expected)) {
    return Fail(absl::StrCat("reduce_scatter got ", rs.sum().item<double>(), " want ",
                             expected.sum().item<double>()));
  }
  FABRIC_RETURN_IF_ERROR(f->Barrier());
  std::printf("OK collectives rank=%d world=%d\n", r, w);
  return absl::OkStatus();
}

absl::Status Equivalence(const Args& a) {
  FABRIC_ASSIGN_OR_RETURN(auto f, Start(a));
  const std::string optim = Get(a, "optim", "sgd");
  const int steps = GetInt(a, "steps", 4), accum = GetInt(a, "accum", 1);
  torch::manual_seed(100 + f->rank());  // rank-dependent: Setup must broadcast rank 0's
  Mlp model;
  model->jit = Get(a, "jit", "0") == "1";
  FABRIC_RETURN_IF_ERROR(
      f->Setup(model.ptr(), [&](std::vector<at::Tensor> p) { return MakeOptimizer(optim, p); }));
  MemoryStats m;            // measured after the last backward: parameters, gradients, optimizer
  MemoryStats fwd;          // measured right after the last forward
  std::string grad_device;  // where the last optimizer step found its gradients
  for (int s = 0; s < steps; ++s) {
    FABRIC_ASSIGN_OR_RETURN(double loss, TrainStep(*f, model, s, accum, &m, &fwd, &grad_device));
    f->Print(absl::StrFormat("LOSS %d %.9g", s, loss));
  }
  std::printf("AFTER_FORWARD rank=%d params=%lld unit_calls=%d\n", f->rank(),
              (long long)fwd.param_bytes, model->unit_calls);
  std::printf("OPTIM_TENSORS %zu\n", f->optimizer()->param_groups()[0].params().size());
  {  // where the optimizer's tensors (and so its state) and their gradients live
    const at::Tensor& p0 = f->optimizer()->param_groups()[0].params()[0];
    // pinned: the optimizer's tensor is in pinned (page-locked) host memory (FSDP offload).
    std::printf("PLACEMENT rank=%d model=%s params=%s grads=%s pinned=%d\n", f->rank(),
                f->device().str().c_str(), p0.device().str().c_str(), grad_device.c_str(),
                p0.is_cpu() && p0.is_pinned() ? 1 : 0);
  }
  std::printf("MEMORY rank=%d params=%lld grads=%lld optim=%lld total=%lld\n", f->rank(),
              (long long)m.param_bytes, (long long)m.grad_bytes, (long long)m.optimizer_state_bytes,
              (long long)m.total());
  FABRIC_ASSIGN_OR_RETURN(TensorMap state, f->ModelStateDict());
  // The same gathered on rank 0 only (what Save() does): rank 0 gets every tensor, equal
  // to the every-rank state; the others nothing.
  FABRIC_ASSIGN_OR_RETURN(TensorMap rank0, f->ModelStateDict(nullptr, /*rank_zero_only=*/true));
  bool same = f->IsGlobalZero() ? rank0.size() == state.size() : rank0.empty();
  for (const auto& [k, v] : rank0) {
    auto it = state.find(k);
    same = same && it != state.end() && at::equal(v, it->second);
  }
  std::printf("RANK0_ONLY rank=%d entries=%zu same=%d\n", f->rank(), rank0.size(), same ? 1 : 0);

  // The reference: one process, rank 0's initialisation, the concatenated batches, on
  // the same device.
  torch::manual_seed(100);
  Mlp ref;
  ref->to(f->device());
  auto opt = MakeOptimizer(optim, ref->parameters());
  for (int s = 0; s < steps; ++s) {
    opt->zero_grad();
    for (int m = 0; m < accum; ++m) {
      auto [x, y] = GlobalBatch(s * accum + m);
      torch::mse_loss(ref->forward(x.to(f->device())), y.to(f->device())).backward();
    }
    opt->step();
  }
  double max_diff = 0;
  std::string first;
  for (auto& item : ref->named_parameters()) {
    auto it = state.find(item.key());
    if (it == state.end()) return Fail("missing " + item.key());
    // (offloaded FSDP state is on the host, the reference on the device)
    max_diff = std::max(
        max_diff, (it->second.to(item.value().device()) - item.value()).abs().max().item<double>());
  }
  at::Tensor flat = at::cat({state.at("fc1.weight").reshape({-1}), state.at("fc2.bias")});
  std::printf("MAXDIFF rank=%d %.3g\n", f->rank(), max_diff);
  if (f->IsGlobalZero()) {
    std::string vals;
    for (int i = 0; i < 8; ++i)
      absl::StrAppend(&vals, absl::StrFormat(" %.9g", flat[i].item<double>()));
    std::printf("PARAMS%s\n", vals.c_str());
  }
  if (max_diff > 1e-5)
    return Fail(absl::StrCat("parameters differ from the reference by ", max_diff));
  return absl::OkStatus();
}

// One number from the CPU generator, or with rng_on_device=1 from the Fabric's device's
// (cuda: the CUDA generator a checkpoint must restore too).
double Draw(Fabric& f, const Args& a) {
  const bool on_device = Get(a, "rng_on_device", "0") == "1";
  return torch::rand({1}, at::TensorOptions().device(on_device ? f.device() : at::kCPU))
      .item<double>();
}

absl::Status Train(const Args& a) {
  FABRIC_ASSIGN_OR_RETURN(auto f, Start(a));
  torch::manual_seed(7);
  Mlp model;
  FABRIC_RETURN_IF_ERROR(
      f->Setup(model.ptr(), [&](std::vector<at::Tensor> p) { return MakeOptimizer("adam", p); }));
  int start = 0;
  if (a.count("resume")) {
    FABRIC_ASSIGN_OR_RETURN(TrainState st, f->Load(a.at("resume")));
    start = static_cast<int>(st.step);
    f->Print(absl::StrFormat("RESUMED %d", start));
    f->Print(absl::StrFormat("RNG %.9g", Draw(*f, a)));
  }
  const int steps = GetInt(a, "steps", 4), save_at = GetInt(a, "save_at", -1);
  for (int s = start; s < steps; ++s) {
    // Every step moves the device's generator on, as dropout would: a resume that did not
    // restore it would draw from the seed's state, not the saved one.
    if (Get(a, "rng_on_device", "0") == "1") Draw(*f, a);
    if (s == save_at) {
      if (GetInt(a, "sharded", 0) != 0) {
        FABRIC_RETURN_IF_ERROR(f->SaveSharded(a.at("save"), TrainState{s, {}}));
      } else {
        FABRIC_RETURN_IF_ERROR(f->Save(a.at("save"), TrainState{s, {}}));
      }
      f->Print(absl::StrFormat("RNG %.9g", Draw(*f, a)));
    }
    FABRIC_ASSIGN_OR_RETURN(double loss, TrainStep(*f, model, s, 1));
    f->Print(absl::StrFormat("LOSS %d %.9g", s, loss));
  }
  return absl::OkStatus();
}

absl::Status CrashSave(const Args& a) {
  FABRIC_ASSIGN_OR_RETURN(auto f, Start(a));
  torch::manual_seed(7);
  Mlp model;
  FABRIC_RETURN_IF_ERROR(
      f->Setup(model.ptr(), [&](std::vector<at::Tensor> p) { return MakeOptimizer("adam", p); }));
  const std::string path = a.at("path");
  FABRIC_ASSIGN_OR_RETURN(double l0, TrainStep(*f, model, 0, 1));
  (void)l0;
  FABRIC_RETURN_IF_ERROR(f->Save(path, TrainState{1, {}}));
  f->Print("SAVED 1");
  FABRIC_ASSIGN_OR_RETURN(double l1, TrainStep(*f, model, 1, 1));
  (void)l1;
  AtomicWriteOptions crash;
  crash.chunk_bytes = 256;
  crash.after_chunk = [](int64_t written) -> absl::Status {
    if (written >= 512) {
      std::printf("CRASHING after %lld bytes\n", (long long)written);
      std::fflush(stdout);
      _exit(42);  // a crash in the middle of the write
    }
    return absl::OkStatus();
  };
  return f->Save(path, TrainState{2, {}}, crash);
}

absl::Status CheckCkpt(const Args& a) {
  FABRIC_ASSIGN_OR_RETURN(auto f, Start(a));
  Mlp model;
  FABRIC_RETURN_IF_ERROR(
      f->Setup(model.ptr(), [&](std::vector<at::Tensor> p) { return MakeOptimizer("adam", p); }));
  FABRIC_ASSIGN_OR_RETURN(TrainState st, f->Load(a.at("path")));
  f->Print(absl::StrFormat("STEP %d", st.step));
  return absl::OkStatus();
}

// Trains the MLP for `steps` in precision `p` with the given strategy, on this rank's
// slice of the same global batches as every other test, with batches through ToDevice.
// Prints "PRECISION <p> param=<dtype> compute=<dtype> loss=<dtype> first=<l> last=<l>
// scale=<s> skipped=<n>" and "SCALES <scale after each step>"; a step counts as skipped
// when the optimizer left every parameter unchanged (16-mixed on inf/nan).
absl::Status PrecisionRun(const Args& a) {
  FabricOptions o = OptionsFrom(a);
  o.precision = Get(a, "p", "32-true");
  FABRIC_ASSIGN_OR_RETURN(auto f, Fabric::Create(o));
  if (a.count("init_scale")) {
    GradScalerOptions so;
    absl::SimpleAtod(a.at("init_scale"), &so.init_scale);
    so.growth_interval = GetInt(a, "growth_interval", 2000);
    f->SetGradScalerOptions(so);
  }
  FABRIC_RETURN_IF_ERROR(f->Launch(absl::Seconds(60)));
  torch::manual_seed(3);
  Mlp model;
  FABRIC_RETURN_IF_ERROR(
      f->Setup(model.ptr(), [&](std::vector<at::Tensor> p) { return MakeOptimizer("sgd", p); }));
  const int steps = GetInt(a, "steps", 20);
  double first = 0, last = 0;
  int skipped = 0;
  at::ScalarType compute = at::kFloat, loss_type = at::kFloat, param = at::kFloat;
  std::string scales;
  for (int s = 0; s < steps; ++s) {
    auto [x_cpu, y_cpu] = LocalBatch(s % 4, f->rank(), f->world_size());
    FABRIC_ASSIGN_OR_RETURN(at::Tensor x, f->ToDevice(x_cpu));
    FABRIC_ASSIGN_OR_RETURN(at::Tensor y, f->ToDevice(y_cpu));
    FABRIC_ASSIGN_OR_RETURN(at::Tensor loss, f->Forward([&] {
      at::Tensor out = model->forward(x);
      compute = out.scalar_type();
      return torch::mse_loss(out, y.to(out.scalar_type()));
    }));
    loss_type = loss.scalar_type();
    FABRIC_RETURN_IF_ERROR(f->Backward(loss));
    FABRIC_ASSIGN_OR_RETURN(TensorMap before, f->ModelStateDict());
    for (auto& [name, t] : before) t = t.clone();  // the state dict aliases the parameters
    FABRIC_RETURN_IF_ERROR(f->Step());
    FABRIC_ASSIGN_OR_RETURN(TensorMap after, f->ModelStateDict());
    bool unchanged = true;
    for (auto& [name, t] : before) unchanged = unchanged && at::equal(t.cpu(), after[name].cpu());
    skipped += unchanged ? 1 : 0;
    absl::StrAppend(&scales, " ", f->LossScale());
    FABRIC_ASSIGN_OR_RETURN(at::Tensor mean,
                            f->AllReduce(loss.detach().to(at::kDouble).cpu(), ReduceOp::kMean));
    (s == 0 ? first : last) = mean.item<double>();
  }
  param = model->fc1->weight.scalar_type();
  std::printf(
      "PRECISION %s device=%s param=%s compute=%s loss=%s first=%.6f last=%.6f scale=%g "
      "skipped=%d\n",
      PrecisionName(f->config().precision).c_str(), f->device().str().c_str(), c10::toString(param),
      c10::toString(compute), c10::toString(loss_type), first, last, f->LossScale(), skipped);
  std::printf("SCALES%s\n", scales.c_str());
  return absl::OkStatus();
}

// All ranks all-reduce in a loop; rank `victim` SIGKILLs itself after `after` rounds
// (between two collectives, so its peers are inside or entering one). A survivor prints
// "SURVIVOR rank=R ms=<from the victim's death to the error> code=<status code> <message>"
// and exits 5; finishing `rounds` without an error exits 0 (a failed test).
absl::Status DieMidCollective(const Args& a) {
  FABRIC_ASSIGN_OR_RETURN(auto f, Start(a));
  const int victim = GetInt(a, "victim", f->world_size() - 1);
  const int after = GetInt(a, "after", 20);
  const int rounds = GetInt(a, "rounds", 100000);
  // on_device=1: the Fabric's device (cuda: NCCL), read back every round as a training
  // loop's loss is, so a survivor blocks there until NCCL's watchdog ends it.
  const bool on_device = Get(a, "on_device", "0") == "1";
  at::Tensor t =
      at::ones({1 << 16}, at::TensorOptions().device(on_device ? f->device() : at::kCPU));
  absl::Time last_ok = absl::Now();
  for (int i = 0; i < rounds; ++i) {
    if (f->rank() == victim && i == after) {
      std::printf("VICTIM rank=%d dies\n", f->rank());
      std::fflush(stdout);
      kill(getpid(), SIGKILL);
    }
    absl::StatusOr<at::Tensor> r = f->AllReduce(t, ReduceOp::kSum);
    if (!r.ok()) {
      std::printf("SURVIVOR rank=%d ms=%lld code=%s %s\n", f->rank(),
                  static_cast<long long>(absl::ToInt64Milliseconds(absl::Now() - last_ok)),
                  absl::StatusCodeToString(r.status().code()).c_str(),
                  std::string(r.status().message()).c_str());
      std::fflush(stdout);
      _exit(5);
    }
    if (on_device) (void)r->sum().item<double>();
    last_ok = absl::Now();
  }
  return absl::OkStatus();
}

// Hang detection (fabric-run --hang-timeout): every rank all-reduces `rounds` times; on
// the first attempt (TORCHELASTIC_RESTART_COUNT=0) rank `victim` stops taking part after
// `after` rounds but stays alive and beating, so the other ranks block inside the
// all-reduce and stop beating. Prints "HANG_DONE rank=<r> restart=<n>" at the end.
absl::Status HangInCollective(const Args& a) {
  FABRIC_ASSIGN_OR_RETURN(auto f, Start(a));
  const int victim = GetInt(a, "victim", f->world_size() - 1);
  const int after = GetInt(a, "after", 3);
  const int rounds = GetInt(a, "rounds", 6);
  const char* restart = getenv("TORCHELASTIC_RESTART_COUNT");
  const bool first = restart == nullptr || std::string(restart) == "0";
  at::Tensor t = at::ones({16});
  for (int i = 0; i < rounds; ++i) {
    if (first && f->rank() == victim && i == after) {
      std::printf("VICTIM rank=%d leaves the collectives\n", f->rank());
      std::fflush(stdout);
      for (;;) {
        fabric::runtime::Beat();
        usleep(200 * 1000);
      }
    }
    FABRIC_RETURN_IF_ERROR(f->AllReduce(t, ReduceOp::kSum).status());
  }
  std::printf("HANG_DONE rank=%d restart=%s\n", f->rank(), restart == nullptr ? "0" : restart);
  return absl::OkStatus();
}

// Counts the collectives c10d issues during the backward passes of one optimizer step of
// `accum` micro-batches (the gradient synchronisation): prints "COLLECTIVES
// no_sync=<n inside NoBackwardSync> synced=<n in the last, synced backward>". DDP must
// issue none inside the no-sync scope.
absl::Status CountCollectives(const Args& a) {
  FABRIC_ASSIGN_OR_RETURN(auto f, Start(a));
  torch::manual_seed(100);
  Mlp model;
  FABRIC_RETURN_IF_ERROR(
      f->Setup(model.ptr(), [&](std::vector<at::Tensor> p) { return MakeOptimizer("sgd", p); }));
  const int accum = GetInt(a, "accum", 3);
  uint64_t no_sync = 0, synced = 0;
  for (int m = 0; m < accum; ++m) {
    auto [x_cpu, y_cpu] = LocalBatch(m, f->rank(), f->world_size());
    FABRIC_ASSIGN_OR_RETURN(at::Tensor x, f->ToDevice(x_cpu));
    FABRIC_ASSIGN_OR_RETURN(at::Tensor y, f->ToDevice(y_cpu));
    std::optional<Fabric::NoSyncGuard> guard;
    if (m + 1 < accum) guard.emplace(f.get());
    FABRIC_ASSIGN_OR_RETURN(at::Tensor loss,
                            f->Forward([&] { return torch::mse_loss(model->forward(x), y); }));
    const uint64_t before = f->communicator()->SequenceNumber();  // the gradient sync only
    FABRIC_RETURN_IF_ERROR(f->Backward(loss));
    const uint64_t issued = f->communicator()->SequenceNumber() - before;
    (m + 1 < accum ? no_sync : synced) += issued;
  }
  FABRIC_RETURN_IF_ERROR(f->Step());
  std::printf("COLLECTIVES rank=%d no_sync=%llu synced=%llu\n", f->rank(),
              static_cast<unsigned long long>(no_sync), static_cast<unsigned long long>(synced));
  return absl::OkStatus();
}

// A module with a parameter the forward never uses (and a frozen one): two DDP steps.
// Prints "UNUSED ok trained=<optimizer's parameter count>" or "UNUSED error <message>".
struct WithUnusedImpl : torch::nn::Module {
  WithUnusedImpl() {
    used = register_module("used", torch::nn::Linear(8, 4));
    unused = register_module("unused", torch::nn::Linear(8, 4));
    frozen = register_module("frozen", torch::nn::Linear(8, 8));
    for (auto& p : frozen->parameters()) p.set_requires_grad(false);
  }
  at::Tensor forward(const at::Tensor& x) { return used(frozen(x)); }
  torch::nn::Linear used{nullptr}, unused{nullptr}, frozen{nullptr};
};
TORCH_MODULE(WithUnused);

absl::Status Unused(const Args& a) {
  FABRIC_ASSIGN_OR_RETURN(auto f, Start(a));
  torch::manual_seed(5);
  WithUnused model;
  size_t trained = 0;
  FABRIC_RETURN_IF_ERROR(f->Setup(model.ptr(), [&](std::vector<at::Tensor> p) {
    trained = p.size();
    return MakeOptimizer("sgd", p);
  }));
  for (int s = 0; s < 2; ++s) {
    auto [x, y] = LocalBatch(s, f->rank(), f->world_size());
    absl::Status st = [&]() -> absl::Status {
      FABRIC_ASSIGN_OR_RETURN(at::Tensor loss,
                              f->Forward([&] { return torch::mse_loss(model->forward(x), y); }));
      FABRIC_RETURN_IF_ERROR(f->Backward(loss));
      return f->Step();
    }();
    if (!st.ok()) {
      std::printf("UNUSED error %s\n", std::string(st.message()).c_str());
      return absl::OkStatus();
    }
  }
  std::printf("UNUSED ok trained=%zu\n", trained);
  return absl::OkStatus();
}

// Two models set up on one Fabric (the head learns from the body's detached outputs,
// as a GAN's or a teacher/student's second model does), the body's fc1 frozen, against
// one process training the same pair on the concatenated batches. Prints
// "TWO rank=R names=<the body's optimizer parameter names> maxdiff=<d>"; fails above 1e-5.
absl::Status TwoModels(const Args& a) {
  FABRIC_ASSIGN_OR_RETURN(auto f, Start(a));
  const int steps = GetInt(a, "steps", 3);
  auto freeze = [](Mlp& m) {
    for (auto& p : m->fc1->parameters()) p.set_requires_grad(false);
  };
  torch::manual_seed(100 + f->rank());  // rank-dependent: Setup must broadcast rank 0's
  Mlp body;
  freeze(body);
  torch::nn::Linear head(4, 1);
  std::string names;
  FABRIC_ASSIGN_OR_RETURN(Fabric::Model * mb,
                          f->Setup(body.ptr(), [&](std::vector<NamedTensor> named) {
                            std::vector<at::Tensor> params;
                            for (auto& n : named) {
                              absl::StrAppend(&names, names.empty() ? "" : ",", n.name);
                              params.push_back(n.tensor);
                            }
                            return MakeOptimizer("sgd", params);
                          }));
  FABRIC_ASSIGN_OR_RETURN(Fabric::Model * mh, f->Setup(head.ptr(), [&](std::vector<at::Tensor> p) {
    return MakeOptimizer("adam", p);
  }));
  for (int s = 0; s < steps; ++s) {
    auto [x_cpu, y_cpu] = LocalBatch(s, f->rank(), f->world_size());
    FABRIC_ASSIGN_OR_RETURN(at::Tensor x, f->ToDevice(x_cpu));
    FABRIC_ASSIGN_OR_RETURN(at::Tensor y, f->ToDevice(y_cpu));
    FABRIC_ASSIGN_OR_RETURN(at::Tensor loss,
                            f->Forward({mb}, [&] { return torch::mse_loss(body->forward(x), y); }));
    FABRIC_RETURN_IF_ERROR(f->Backward(loss));
    FABRIC_RETURN_IF_ERROR(f->Step(mb));
    FABRIC_ASSIGN_OR_RETURN(at::Tensor head_loss, f->Forward({mb, mh}, [&] {
      return head->forward(body->forward(x).detach()).pow(2).mean();
    }));
    FABRIC_RETURN_IF_ERROR(f->Backward(head_loss));
    FABRIC_RETURN_IF_ERROR(f->Step(mh));
  }
  FABRIC_ASSIGN_OR_RETURN(TensorMap body_state, f->ModelStateDict(mb));
  FABRIC_ASSIGN_OR_RETURN(TensorMap head_state, f->ModelStateDict(mh));

  torch::manual_seed(100);
  Mlp ref_body;
  freeze(ref_body);
  torch::nn::Linear ref_head(4, 1);
  ref_body->to(f->device());
  ref_head->to(f->device());
  std::vector<at::Tensor> trainable;
  for (auto& p : ref_body->parameters()) {
    if (p.requires_grad()) trainable.push_back(p);
  }
  auto opt_b = MakeOptimizer("sgd", trainable);
  auto opt_h = MakeOptimizer("adam", ref_head->parameters());
  for (int s = 0; s < steps; ++s) {
    auto [x_cpu, y_cpu] = GlobalBatch(s);
    at::Tensor x = x_cpu.to(f->device()), y = y_cpu.to(f->device());
    torch::mse_loss(ref_body->forward(x), y).backward();
    opt_b->step();
    opt_b->zero_grad();
    ref_head->forward(ref_body->forward(x).detach()).pow(2).mean().backward();
    opt_h->step();
    opt_h->zero_grad();
  }
  double max_diff = 0;
  auto compare = [&](const TensorMap& state, torch::nn::Module& ref) -> absl::Status {
    for (auto& item : ref.named_parameters()) {
      auto it = state.find(item.key());
      if (it == state.end()) return Fail("missing " + item.key());
      max_diff = std::max(max_diff, (it->second - item.value()).abs().max().item<double>());
    }
    return absl::OkStatus();
  };
  FABRIC_RETURN_IF_ERROR(compare(body_state, *ref_body));
  FABRIC_RETURN_IF_ERROR(compare(head_state, *ref_head));
  std::printf("TWO rank=%d names=%s maxdiff=%.3g\n", f->rank(), names.c_str(), max_diff);
  if (max_diff > 1e-5) return Fail(absl::StrCat("two models differ by ", max_diff));
  return absl::OkStatus();
}

// Parity with torch's own DDP/FSDP2: loads the initial weights torch_reference.py wrote
// (init=PATH), trains `steps` like the reference (SGD momentum 0.9, the same batches), and
// compares every tensor with the reference's final checkpoint (ref=PATH). Prints
// "PARITY rank=R maxdiff=<d>"; fails above 1e-5.
absl::Status Parity(const Args& a) {
  FABRIC_ASSIGN_OR_RETURN(auto f, Start(a));
  Mlp model;
  FABRIC_RETURN_IF_ERROR(
      f->Setup(model.ptr(), [&](std::vector<at::Tensor> p) { return MakeOptimizer("sgd", p); }));
  FABRIC_RETURN_IF_ERROR(f->Load(Get(a, "init", "")).status());
  for (int s = 0; s < GetInt(a, "steps", 4); ++s) {
    FABRIC_RETURN_IF_ERROR(TrainStep(*f, model, s, 1).status());
  }
  FABRIC_ASSIGN_OR_RETURN(TensorMap state, f->ModelStateDict());
  FABRIC_ASSIGN_OR_RETURN(CheckpointData ref, ReadCheckpoint(Get(a, "ref", ""), f->rank()));
  double max_diff = 0;
  for (const auto& [name, t] : ref.model) {
    auto it = state.find(name);
    if (it == state.end()) return Fail("the runtime's model has no '" + name + "'");
    max_diff = std::max(max_diff, (it->second.cpu() - t).abs().max().item<double>());
  }
  if (ref.model.size() != state.size()) return Fail("different tensor sets");
  std::printf("PARITY rank=%d tensors=%zu maxdiff=%.3g\n", f->rank(), ref.model.size(), max_diff);
  if (max_diff > 1e-5) return Fail(absl::StrCat("differs from torch's own by ", max_diff));
  return absl::OkStatus();
}

absl::Status Run(const std::string& mode, const Args& a) {
  if (mode == "collectives") return Collectives(a);
  if (mode == "equiv") return Equivalence(a);
  if (mode == "train") return Train(a);
  if (mode == "crash_save") return CrashSave(a);
  if (mode == "check_ckpt") return CheckCkpt(a);
  if (mode == "precision") return PrecisionRun(a);
  if (mode == "die_mid_collective") return DieMidCollective(a);
  if (mode == "hang_in_collective") return HangInCollective(a);
  if (mode == "count_collectives") return CountCollectives(a);
  if (mode == "unused") return Unused(a);
  if (mode == "two_models") return TwoModels(a);
  if (mode == "parity") return Parity(a);
  if (mode == "conflict" || mode == "start") {
    absl::StatusOr<std::unique_ptr<Fabric>> f = Start(a);
    if (!f.ok()) {
      std::printf("ERROR %s\n", std::string(f.status().message()).c_str());
      std::fflush(stdout);
      _exit(3);
    }
    return absl::OkStatus();
  }
  if (mode == "absent_rank0") {
    if (getenv("RANK") != nullptr && std::string(getenv("RANK")) == "0") return absl::OkStatus();
    absl::StatusOr<std::unique_ptr<Fabric>> f = Start(a);
    if (!f.ok()) {
      std::printf("ERROR %s %s\n", absl::StatusCodeToString(f.status().code()).c_str(),
                  std::string(f.status().message()).c_str());
      std::fflush(stdout);
      _exit(4);
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError("unknown mode " + mode);
}

}  // namespace
}  // namespace fabric::runtime

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: worker MODE [key=value...]\n");
    return 2;
  }
  fabric::runtime::Args args;
  for (int i = 2; i < argc; ++i) {
    std::string kv = argv[i];
    size_t eq = kv.find('=');
    if (eq != std::string::npos) args[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  absl::Status s = fabric::runtime::Run(argv[1], args);
  std::fflush(stdout);
  if (!s.ok()) {
    std::fprintf(stderr, "FAILED %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
