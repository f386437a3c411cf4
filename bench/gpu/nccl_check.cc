// The NCCL part of tools/gpu_check.sh: one process, a c10d ProcessGroupNCCL of world size
// 1 on cuda:0 (NCCL allows one rank per GPU, so one GPU gives a world of one), created
// through the runtime's Communicator exactly as a training job creates it. Checks that
// CUDA tensors go to NCCL and that all-reduce, broadcast, all-gather and reduce-scatter
// return the expected values; reports the process group's creation time.
//
// Prints "CHECK <name> ok|FAIL <detail>" lines and "FIGURE nccl_init_ms <ms>"; exits 0
// when every check passed, 1 when one failed, 2 without a GPU.
//
// `nccl_check wait N`: instead, N tiny all-reduces each waited for (Communicator's
// AllReduce), then one device synchronisation; prints "FIGURE nccl_wait_us <us per
// all-reduce>" and "FIGURE blocking_wait <TORCH_NCCL_BLOCKING_WAIT as set>". Run with and
// without TORCH_NCCL_BLOCKING_WAIT=1: the cost of polling the GPU from the CPU that the
// runtime's default (the watchdog, no blocking wait) avoids.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/net.h"
#include "runtime/communicator.h"
#include "torch/cuda.h"
#include "torch/torch.h"

namespace {

using fabric::runtime::Communicator;
using fabric::runtime::CommunicatorOptions;
using fabric::runtime::ReduceOp;

int failures = 0;

void Check(const std::string& name, bool ok, const std::string& detail = "") {
  std::printf("CHECK %s %s%s%s\n", name.c_str(), ok ? "ok" : "FAIL", detail.empty() ? "" : " ",
              detail.c_str());
  std::fflush(stdout);
  if (!ok) ++failures;
}

std::string Str(const at::Tensor& t) { return c10::str(t.cpu().reshape({-1})); }

}  // namespace

// N all-reduces of one float on cuda:0, each waited for; the time per all-reduce.
int WaitLoop(Communicator& comm, int n) {
  at::Tensor t = at::ones({1}, at::TensorOptions().device(at::kCUDA, 0));
  absl::Status s = comm.AllReduce(t, ReduceOp::kSum);  // warm-up
  torch::cuda::synchronize(0);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n && s.ok(); ++i) s = comm.AllReduce(t, ReduceOp::kSum);
  torch::cuda::synchronize(0);
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  Check("wait_loop", s.ok() && t.item<float>() == 1.0f, s.ok() ? Str(t) : s.ToString());
  const char* blocking = std::getenv("TORCH_NCCL_BLOCKING_WAIT");
  std::printf("FIGURE nccl_wait_us %.2f\n", us / n);
  std::printf("FIGURE blocking_wait %s\n", blocking != nullptr ? blocking : "unset");
  return failures == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  const bool wait_mode = argc >= 2 && std::string(argv[1]) == "wait";
  const int wait_n = argc >= 3 ? std::atoi(argv[2]) : 1000;
  if (!torch::cuda::is_available()) {
    std::fprintf(stderr, "nccl_check: no CUDA device is visible to LibTorch\n");
    return 2;
  }
  absl::StatusOr<int> port = fabric::PickFreePort();
  if (!port.ok()) {
    std::fprintf(stderr, "nccl_check: %s\n", port.status().ToString().c_str());
    return 1;
  }
  CommunicatorOptions o;
  o.master_port = *port;
  o.cuda_device = 0;
  o.cuda_backend = "nccl";
  o.group_for_one_rank = true;
  o.timeout = absl::Seconds(120);
  const auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<Communicator>> comm = Communicator::Create(o);
  const double init_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  Check("create_process_group", comm.ok(), comm.ok() ? "" : comm.status().ToString());
  if (!comm.ok()) return 1;
  std::printf("FIGURE nccl_init_ms %.1f\n", init_ms);
  if (wait_mode) return WaitLoop(**comm, wait_n > 0 ? wait_n : 1000);
  const std::string cuda_backend = (*comm)->BackendName(c10::DeviceType::CUDA);
  Check("cuda_tensors_use_nccl", cuda_backend == "nccl", cuda_backend);

  const auto cuda = at::TensorOptions().device(at::kCUDA, 0);
  at::Tensor t = at::arange(1, 5, cuda.dtype(at::kFloat));  // [1, 2, 3, 4]
  const at::Tensor want = t.clone();
  absl::Status s = (*comm)->AllReduce(t, ReduceOp::kSum);
  Check("all_reduce_sum", s.ok() && at::equal(t, want), s.ok() ? Str(t) : s.ToString());
  at::Tensor m = at::full({3}, 6.0, cuda.dtype(at::kBFloat16));
  s = (*comm)->AllReduce(m, ReduceOp::kMax);
  Check("all_reduce_max_bf16", s.ok() && at::equal(m, at::full({3}, 6.0, m.options())),
        s.ok() ? Str(m) : s.ToString());
  at::Tensor b = at::full({5}, 7.0, cuda.dtype(at::kHalf));
  s = (*comm)->Broadcast(b, 0);
  Check("broadcast", s.ok() && at::equal(b, at::full({5}, 7.0, b.options())),
        s.ok() ? Str(b) : s.ToString());
  absl::StatusOr<std::vector<at::Tensor>> g = (*comm)->AllGather(want);
  Check("all_gather", g.ok() && g->size() == 1 && at::equal((*g)[0], want),
        g.ok() ? absl::StrCat(g->size(), " tensor(s)") : g.status().ToString());
  absl::StatusOr<at::Tensor> r = (*comm)->ReduceScatter(want);
  Check("reduce_scatter", r.ok() && at::equal(*r, want) && r->is_cuda(),
        r.ok() ? Str(*r) : r.status().ToString());
  s = (*comm)->Barrier();
  Check("barrier", s.ok(), s.ok() ? "" : s.ToString());
  return failures == 0 ? 0 : 1;
}
