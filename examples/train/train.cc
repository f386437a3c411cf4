// The example trainer: a small causal transformer language model on a learnable
// synthetic task (each sequence is an arithmetic progression mod vocab with a random
// start and stride, so the loss falls from ln(vocab) towards 0 as the model learns to
// read the stride from the context), trained through fabric::runtime::Fabric.
//
//   fabric-run --devices 2 --strategy ddp ./train --steps 300 --ckpt-dir /tmp/ckpt
//
// Resumes from <ckpt-dir>/last.ckpt when it exists, so a run restarted by the launcher
// continues where its last checkpoint left it. Prints from rank 0 only.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ATen/DeviceAccelerator.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "examples/train/train_options.h"
#include "runtime/fabric.h"
#include "runtime/fsdp_unit.h"
#include "runtime/fused_adamw.h"
#include "torch/torch.h"

namespace fabric::examples {
namespace {

using runtime::Fabric;
using runtime::FabricOptions;
using runtime::GradScalerOptions;
using runtime::ReduceOp;
using runtime::TrainState;

struct TinyLmImpl : torch::nn::Module {
  explicit TinyLmImpl(const TrainOptions& o) : seq_len(o.seq_len) {
    tok = register_module("tok", torch::nn::Embedding(o.vocab, o.d_model));
    pos = register_module("pos", torch::nn::Embedding(o.seq_len, o.d_model));
    for (int i = 0; i < o.layers; ++i) {
      auto layer = torch::nn::TransformerEncoderLayer(
          torch::nn::TransformerEncoderLayerOptions(o.d_model, o.heads)
              .dim_feedforward(2 * o.d_model)
              .dropout(0.0));
      blocks.push_back(register_module(absl::StrCat("block", i), layer));
    }
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.d_model})));
    head = register_module("head", torch::nn::Linear(o.d_model, o.vocab));
    // A buffer, so that Setup moves it to the device with the parameters.
    causal_mask = register_buffer(
        "causal_mask",
        torch::triu(torch::full({o.seq_len, o.seq_len}, -std::numeric_limits<float>::infinity()),
                    1));
  }

  // tokens: [batch, seq] int64 -> logits [batch, seq, vocab] (float32).
  at::Tensor forward(const at::Tensor& tokens) {
    const int64_t s = tokens.size(1);
    at::Tensor h = tok(tokens) + pos(torch::arange(s, tokens.options())).unsqueeze(0);
    h = h.transpose(0, 1);  // the C++ encoder layer is sequence-first
    at::Tensor mask = causal_mask.narrow(0, 0, s).narrow(1, 0, s);
    // Each block's forward through RunUnit: under FSDP with a unit per block
    // (--fsdp-units TransformerEncoderLayer) its parameters are gathered just for it.
    for (auto& b : blocks) {
      h = runtime::RunUnit(
          *b, h, [l = b.get(), mask](const at::Tensor& x) { return l->forward(x, mask); });
    }
    return head(norm(h.transpose(0, 1))).to(at::kFloat);
  }

  int seq_len;
  torch::nn::Embedding tok{nullptr}, pos{nullptr};
  std::vector<torch::nn::TransformerEncoderLayer> blocks;
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};
  at::Tensor causal_mask;
};
TORCH_MODULE(TinyLm);

constexpr int64_t kDatasetSize = 1 << 16;

// The kernel's high-water mark of this process's resident memory (VmHWM), in MB.
double PeakRssMb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  }
  return 0;
}

// The CUDA caching allocator's peak of allocated bytes on `device`, in MB (0 on cpu).
double PeakDeviceMb(const at::Device& device) {
  if (!device.is_cuda()) return 0;
  const auto stats = at::accelerator::getDeviceStats(device.index());
  return static_cast<double>(
             stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)]
                 .peak) /
         (1 << 20);
}

// Sample `index` of the synthetic dataset: seq_len + 1 tokens.
void MakeSample(const TrainOptions& o, int64_t index, int64_t* out) {
  std::mt19937_64 rng(o.seed * 1000003ULL + static_cast<uint64_t>(index));
  const int64_t start = static_cast<int64_t>(rng() % o.vocab);
  const int64_t stride = 1 + static_cast<int64_t>(rng() % 7);
  for (int t = 0; t <= o.seq_len; ++t) out[t] = (start + stride * t) % o.vocab;
}

// Wall-clock milliseconds (the step log's timestamps, compared across processes).
int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::Status Train(const TrainOptions& o) {
  FabricOptions fo;
  fo.strategy = o.strategy;
  fo.precision = o.precision;
  fo.accelerator = o.accelerator;
  fo.process_group_backend = o.process_group_backend;
  if (!o.fsdp_units.empty()) fo.fsdp.unit_types = {o.fsdp_units};
  if (!o.fsdp_checkpoint.empty()) fo.fsdp.checkpoint_types = {o.fsdp_checkpoint};
  // The blocks run through RunUnit: with a unit per block none is gathered before forward.
  fo.fsdp.just_in_time = o.fsdp_units == "TransformerEncoderLayer";
  FABRIC_ASSIGN_OR_RETURN(auto fabric, Fabric::Create(fo));
  GradScalerOptions scaler;
  scaler.growth_interval = o.loss_scale_growth_interval;
  fabric->SetGradScalerOptions(scaler);
  FABRIC_RETURN_IF_ERROR(fabric->Launch());
  const auto& cfg = fabric->config();
  fabric->Print(absl::StrFormat(
      "train: world=%d device=%s strategy=%s precision=%s threads=%d batch=%d seq=%d steps=%d",
      fabric->world_size(), fabric->device().str(),
      cfg.fsdp.cpu_offload ? "fsdp_cpu_offload" : runtime::StrategyName(cfg.strategy),
      runtime::PrecisionName(cfg.precision), at::get_num_threads(), o.batch_size, o.seq_len,
      o.steps));
  fabric->SeedEverything(o.seed);
  TinyLm model(o);
  FABRIC_RETURN_IF_ERROR(fabric->Setup(
      model.ptr(), [&](std::vector<at::Tensor> params) -> std::unique_ptr<torch::optim::Optimizer> {
        const auto adamw = torch::optim::AdamWOptions(o.lr).weight_decay(0.0);
        // On a GPU, LibTorch's fused AdamW kernel (one launch per device and dtype, not
        // several per parameter); the CPU keeps torch::optim::AdamW, which the CPU tests
        // compare against torch's Python AdamW.
        if (fabric->device().is_cuda()) return std::make_unique<runtime::FusedAdamW>(params, adamw);
        return std::make_unique<torch::optim::AdamW>(params, adamw);
      }));

  const std::string ckpt = o.ckpt_dir.empty() ? "" : o.ckpt_dir + "/last.ckpt";
  int start_step = 0;
  if (!ckpt.empty() && access(ckpt.c_str(), R_OK) == 0) {
    FABRIC_ASSIGN_OR_RETURN(TrainState st, fabric->Load(ckpt));
    start_step = static_cast<int>(st.step);
    fabric->Print(absl::StrFormat("resumed from %s at step %d", ckpt, start_step));
  }
  if (std::optional<int64_t> joined = fabric->joined_at_step()) {
    // Started in place of a failed rank (fabric-run --recovery in-place): the live ranks'
    // state came with Setup; go on from their step.
    start_step = static_cast<int>(*joined);
  }
  // fabric-run's status shows the step, rate and ETA (the heartbeat file); Step() reports
  // each step on its own, these give the total and where this attempt starts.
  fabric->SetTotalSteps(o.steps);
  fabric->SetStep(start_step);
  const char* restart_env = std::getenv("TORCHELASTIC_RESTART_COUNT");
  const bool first_attempt = (restart_env == nullptr || std::string(restart_env) == "0") &&
                             !fabric->joined_at_step().has_value();
  std::FILE* step_log = nullptr;
  if (!o.step_log_dir.empty()) {
    const std::string path = absl::StrFormat("%s/rank_%d.steps", o.step_log_dir, fabric->rank());
    step_log = std::fopen(path.c_str(), "a");
    if (step_log == nullptr) return absl::InternalError(absl::StrCat("open ", path));
  }

  // The world may shrink in place (fabric-run --recovery in-place, a node lost): the
  // sampler's split is recomputed whenever it changed.
  int world = fabric->world_size();
  int64_t per_step = static_cast<int64_t>(o.batch_size) * world;
  int64_t steps_per_epoch = kDatasetSize / per_step;
  std::vector<int64_t> indices;
  int64_t indices_epoch = -1;
  std::vector<int64_t> buf(static_cast<size_t>(o.batch_size) * (o.seq_len + 1));
  double timed_ms = 0;
  int timed_steps = 0;
  double last_loss = 0;
  runtime::MemoryStats memory;
  for (int step = start_step; step < o.steps; ++step) {
    if (step == o.crash_at_step && first_attempt && fabric->rank() == o.crash_rank) {
      std::fprintf(stderr, "train: rank %d crashing at step %d (--crash-at-step)\n", fabric->rank(),
                   step);
      if (step_log != nullptr) {
        std::fprintf(step_log, "kill pid %d t %lld\n", static_cast<int>(getpid()),
                     static_cast<long long>(NowMs()));
        std::fflush(step_log);
      }
      if (o.crash_with == "kill") raise(SIGKILL);
      std::_Exit(1);
    }
    auto t0 = std::chrono::steady_clock::now();
    if (fabric->world_size() != world) {
      world = fabric->world_size();
      per_step = static_cast<int64_t>(o.batch_size) * world;
      steps_per_epoch = kDatasetSize / per_step;
      indices_epoch = -1;
    }
    const int64_t epoch = step / steps_per_epoch;
    if (epoch != indices_epoch) {
      indices = fabric->DistributedIndices(kDatasetSize, epoch, /*shuffle=*/true, o.seed);
      indices_epoch = epoch;
    }
    const int64_t first = (step % steps_per_epoch) * o.batch_size;
    for (int i = 0; i < o.batch_size; ++i) {
      MakeSample(o, indices[first + i], &buf[static_cast<size_t>(i) * (o.seq_len + 1)]);
    }
    FABRIC_ASSIGN_OR_RETURN(
        at::Tensor seqs,
        fabric->ToDevice(torch::from_blob(buf.data(), {o.batch_size, o.seq_len + 1}, at::kLong)));
    at::Tensor x = seqs.narrow(1, 0, o.seq_len), y = seqs.narrow(1, 1, o.seq_len);
    FABRIC_ASSIGN_OR_RETURN(at::Tensor loss, fabric->Forward([&] {
      at::Tensor logits = model->forward(x);
      return torch::nn::functional::cross_entropy(logits.reshape({-1, o.vocab}), y.reshape({-1}));
    }));
    FABRIC_RETURN_IF_ERROR(fabric->Backward(loss));
    FABRIC_RETURN_IF_ERROR(fabric->ClipGradients(1.0).status());
    if (step + 1 == o.steps) memory = fabric->Memory();  // with gradients, before the step
    FABRIC_RETURN_IF_ERROR(fabric->Step());
    FABRIC_RETURN_IF_ERROR(fabric->Synchronize());  // time the device's work, not its queueing
    if (step_log != nullptr) {
      std::fprintf(step_log, "step %d pid %d t %lld world %d scale %g\n", step,
                   static_cast<int>(getpid()), static_cast<long long>(NowMs()),
                   fabric->world_size(), fabric->LossScale());
      std::fflush(step_log);
    }
    auto t1 = std::chrono::steady_clock::now();
    if (step - start_step >= o.warmup_steps) {
      timed_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
      ++timed_steps;
    }
    if (step % o.log_every == 0 || step + 1 == o.steps) {
      FABRIC_ASSIGN_OR_RETURN(at::Tensor mean, fabric->AllReduce(loss.detach(), ReduceOp::kMean));
      last_loss = mean.item<double>();
      fabric->Print(absl::StrFormat("step %d loss %.4f", step, last_loss));
    }
    if (!ckpt.empty() && ((step + 1) % o.ckpt_every == 0 || step + 1 == o.steps)) {
      FABRIC_RETURN_IF_ERROR(fabric->Save(ckpt, TrainState{step + 1, {}}));
    }
  }
  if (step_log != nullptr) std::fclose(step_log);
  if (!o.dump_params.empty()) {
    FABRIC_ASSIGN_OR_RETURN(runtime::TensorMap state, fabric->ModelStateDict(nullptr, true));
    if (fabric->IsGlobalZero()) {
      std::vector<float> flat;
      for (auto& item : model->named_parameters()) {  // parameter order, full values
        at::Tensor t = state.at(item.key()).to(at::kFloat).contiguous().cpu();
        flat.insert(flat.end(), t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
      }
      std::FILE* f = std::fopen(o.dump_params.c_str(), "wb");
      if (f == nullptr) return absl::InternalError(absl::StrCat("open ", o.dump_params));
      std::fwrite(flat.data(), sizeof(float), flat.size(), f);
      std::fclose(f);
    }
  }
  const runtime::MemoryStats& m = memory;
  fabric->Print(absl::StrFormat(
      "done: steps=%d final_loss=%.4f mean_step_ms=%.2f timed_steps=%d "
      "state_bytes_per_rank=%lld (params %lld, grads %lld, optimizer %lld) "
      "peak_rss_mb=%.1f peak_device_mb=%.1f",
      o.steps, last_loss, timed_steps > 0 ? timed_ms / timed_steps : 0.0, timed_steps,
      (long long)m.total(), (long long)m.param_bytes, (long long)m.grad_bytes,
      (long long)m.optimizer_state_bytes, PeakRssMb(), PeakDeviceMb(fabric->device())));
  return absl::OkStatus();
}

}  // namespace
}  // namespace fabric::examples

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<fabric::examples::TrainOptions> options =
      fabric::examples::ParseTrainOptions(args);
  if (!options.ok()) {
    bool help = absl::IsNotFound(options.status());
    std::fprintf(help ? stdout : stderr, "%s%s\n",
                 help ? "" : "train: ", std::string(options.status().message()).c_str());
    return help ? 0 : 2;
  }
  absl::Status s = fabric::examples::Train(*options);
  if (!s.ok()) {
    std::fprintf(stderr, "train: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
