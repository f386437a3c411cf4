#include "launcher/progress.h"

#include <algorithm>

namespace fabric::launcher {

void ProgressEstimator::Add(absl::Time time, uint64_t step) {
  if (!samples_.empty()) {
    const Sample& newest = samples_.back();
    if (step < newest.step || time < newest.time) {
      samples_.clear();  // a restart from an earlier step, or a clock that went back
    } else if (time == newest.time) {
      samples_.pop_back();
    }
  }
  samples_.push_back(Sample{time, step});
  // Keep one anchor at or before the window's start: drop the oldest while the next one
  // is itself at or before it.
  const absl::Time start = time - options_.window;
  while (samples_.size() > 2 && samples_[1].time <= start) samples_.pop_front();
  while (samples_.size() > std::max<size_t>(options_.max_samples, 2)) samples_.pop_front();
}

std::optional<double> ProgressEstimator::StepsPerSecond() const {
  if (samples_.size() < 2) return std::nullopt;
  const Sample& oldest = samples_.front();
  const Sample& newest = samples_.back();
  const double seconds = absl::ToDoubleSeconds(newest.time - oldest.time);
  if (seconds <= 0) return std::nullopt;
  return static_cast<double>(newest.step - oldest.step) / seconds;
}

std::optional<absl::Duration> ProgressEstimator::Eta(uint64_t total) const {
  if (samples_.empty()) return std::nullopt;
  if (samples_.back().step >= total) return absl::ZeroDuration();
  const std::optional<double> rate = StepsPerSecond();
  if (!rate.has_value() || *rate <= 0) return std::nullopt;
  return absl::Seconds(static_cast<double>(total - samples_.back().step) / *rate);
}

std::optional<uint64_t> ProgressEstimator::last_step() const {
  if (samples_.empty()) return std::nullopt;
  return samples_.back().step;
}

}  // namespace fabric::launcher
