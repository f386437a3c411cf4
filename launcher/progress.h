// ProgressEstimator: a rank's training speed and time to completion, from samples of its
// reported step (the heartbeat file's step word, common/worker_control.h) taken by the
// agent on its clock. Pure: the times are passed in; no I/O, no clock of its own.
//
// The rate is measured over a sliding window: from the oldest kept sample to the newest,
// where the samples kept are the newest, those less than `window` (30 s) older, and the
// one newest sample at or before that (the anchor), so that samples sparser than the
// window still give a rate; at most `max_samples` (64) are kept, the oldest dropped first.
// A rank whose step stops moving is still sampled, so its rate falls to 0 within one
// window. A step lower than the newest (a restart from a checkpoint, SetStep) or a time
// before the newest starts the window afresh at that sample.
//
// Thread safety: none (the agent's loop owns it). Copyable.
#ifndef FABRIC_LAUNCHER_PROGRESS_H_
#define FABRIC_LAUNCHER_PROGRESS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "absl/time/time.h"

namespace fabric::launcher {

struct ProgressOptions {
  absl::Duration window = absl::Seconds(30);
  size_t max_samples = 64;  // >= 2
};

class ProgressEstimator {
 public:
  ProgressEstimator() : ProgressEstimator(ProgressOptions{}) {}
  explicit ProgressEstimator(const ProgressOptions& options) : options_(options) {}

  // At `time` the rank had completed `step` steps. A sample at the newest sample's time
  // replaces it.
  void Add(absl::Time time, uint64_t step);
  // Forgets every sample (a new attempt).
  void Reset() { samples_.clear(); }

  // Steps per second over the window; nullopt with fewer than two samples in it.
  std::optional<double> StepsPerSecond() const;
  // The time left until step `total` at that rate: zero once the newest step is at or past
  // `total`; nullopt when the rate is unknown or 0 (the rank is not progressing).
  std::optional<absl::Duration> Eta(uint64_t total) const;
  // The newest sample's step; nullopt before the first.
  std::optional<uint64_t> last_step() const;

 private:
  struct Sample {
    absl::Time time;
    uint64_t step;
  };
  ProgressOptions options_;
  std::deque<Sample> samples_;  // oldest first; times strictly and steps weakly increasing
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_PROGRESS_H_
