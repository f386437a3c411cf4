// FakeGpuProcessQuery (testonly): a scripted GpuProcessQuery. Each pid holds memory on
// its GPU for a number of queries, then lets go (or never does); a query can be made to
// fail. Thread safety: none (one test thread).
#ifndef FABRIC_LAUNCHER_FAKE_GPU_PROCESS_QUERY_H_
#define FABRIC_LAUNCHER_FAKE_GPU_PROCESS_QUERY_H_

#include <map>
#include <vector>

#include "launcher/gpu_processes.h"

namespace fabric::launcher {

class FakeGpuProcessQuery final : public GpuProcessQuery {
 public:
  static constexpr int kForever = -1;
  explicit FakeGpuProcessQuery(int gpus) : gpus_(gpus) {}

  // `pid` is seen on `gpu` by the next `queries` queries (kForever: by all of them).
  void Hold(pid_t pid, int gpu, int queries) { holds_[pid] = {gpu, queries}; }
  void FailQueries(bool fail) { fail_ = fail; }
  int queries() const { return queries_; }

  absl::StatusOr<std::vector<std::vector<pid_t>>> PidsByDevice() override {
    ++queries_;
    if (fail_) return absl::UnavailableError("fake NVML error");
    std::vector<std::vector<pid_t>> out(gpus_);
    for (auto& [pid, h] : holds_) {
      if (h.left == 0) continue;
      if (h.left > 0) --h.left;
      out[h.gpu].push_back(pid);
    }
    return out;
  }

 private:
  struct HoldState {
    int gpu = 0;
    int left = 0;  // queries that still see it (kForever: all)
  };
  int gpus_;
  std::map<pid_t, HoldState> holds_;
  bool fail_ = false;
  int queries_ = 0;
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_FAKE_GPU_PROCESS_QUERY_H_
