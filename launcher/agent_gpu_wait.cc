// Agent::WaitGpusFree: before the next attempt, the workers of the failed one must have
// let go of their GPU memory (a new worker on a GPU still held by a dying one may fail
// with out-of-memory at its first allocation). Asked of a GpuProcessQuery (NVML, loaded
// at the first wait; none: skipped silently), polled every kGpuPollInterval on the
// agent's one loop (signals and coordinator events are served meanwhile), for at most
// AgentOptions::gpu_free_timeout; then the next attempt starts anyway.
#include <utility>

#include "absl/strings/str_cat.h"
#include "launcher/agent.h"

namespace fabric::launcher {
namespace {

constexpr absl::Duration kGpuPollInterval = absl::Milliseconds(100);

std::string Seconds(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Milliseconds(100)));
}

}  // namespace

void Agent::NoteDeadWorkers(const GangOutcome& outcome) {
  dead_pids_.clear();
  if (outcome.end == GangEnd::kSucceeded) return;
  for (const WorkerState& w : outcome.workers) {
    if (w.pid > 0) dead_pids_.push_back(w.pid);
  }
}

bool Agent::WaitGpusFree(int* sig) {
  const std::vector<pid_t> dead = std::exchange(dead_pids_, {});
  if (dead.empty()) return true;
  if (!gpu_query_tried_) {
    gpu_query_tried_ = true;
    if (options_.gpu_query != nullptr) {
      gpu_query_ = options_.gpu_query;
    } else {
      owned_gpu_query_ = LoadNvmlGpuProcessQuery();
      gpu_query_ = owned_gpu_query_.get();
    }
  }
  if (gpu_query_ == nullptr) return true;  // no NVML: no GPU to wait for
  int stop = 0;
  const LoopHandlers h = BetweenAttempts(&stop);
  const absl::Duration limit = options_.gpu_free_timeout;
  const absl::Time start = clock_->TimeNow();
  bool said = false;
  for (;;) {
    absl::StatusOr<std::vector<std::vector<pid_t>>> by_device = gpu_query_->PidsByDevice();
    if (!by_device.ok()) {
      Say(
          absl::StrCat("fabric-run: warning: cannot tell whether the last attempt's workers "
                       "freed their GPUs (",
                       by_device.status().message(), "); starting the next attempt\n"));
      return true;
    }
    const std::vector<GpuHolder> held = StillHolding(*by_device, dead);
    const absl::Time now = clock_->TimeNow();
    if (held.empty()) {
      if (said) {
        Say(absl::StrCat("fabric-run: the last attempt's GPU memory was freed after ",
                         Seconds(now - start), "; starting the next attempt\n"));
      }
      return true;
    }
    const GpuHolder& h0 = held.front();
    if (now - start >= limit) {
      Say(absl::StrCat("fabric-run: pid ", h0.pid, " (a worker of the last attempt) still holds ",
                       "memory on GPU ", h0.gpu, " after ", Seconds(limit),
                       "; starting the next attempt anyway (it may run out of GPU memory)\n"));
      return true;
    }
    if (!said) {
      said = true;
      Say(absl::StrCat("fabric-run: pid ", h0.pid, " (a worker of the last attempt) still holds ",
                       "memory on GPU ", h0.gpu, "; waiting up to ", Seconds(limit),
                       " for it to be freed before the next attempt\n"));
    }
    if (absl::Status st = Poll(std::min(now + kGpuPollInterval, start + limit), h); !st.ok()) {
      return true;  // the loop's own error: the next attempt will meet it
    }
    if (stop != 0) {
      *sig = stop;
      return false;
    }
  }
}

}  // namespace fabric::launcher
