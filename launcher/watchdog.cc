#include "launcher/watchdog.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace fabric::launcher {
namespace {

using Json = nlohmann::json;

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("file-timer request ", what));
}

// The number member `key` of `object`; a bool or any other type is refused.
absl::Status Number(const Json& object, const char* key, double* out) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_number()) {
    return Bad(absl::StrCat("has no number '", key, "'"));
  }
  *out = it->get<double>();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FileTimerRequest> ParseFileTimerRequest(absl::string_view line) {
  // No exceptions: a line that is not JSON comes back discarded. nlohmann's parser and
  // destructor are iterative, so deeply nested garbage costs memory, not stack.
  const Json j = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad("is not JSON");
  if (!j.is_object()) return Bad("is not a JSON object");
  FileTimerRequest r;
  double pid = 0, signal = 0, version = 0;
  FABRIC_RETURN_IF_ERROR(Number(j, "version", &version));
  if (version != 1) {
    return Bad(absl::StrCat("has version ", version, "; fabric-run reads version 1"));
  }
  FABRIC_RETURN_IF_ERROR(Number(j, "pid", &pid));
  FABRIC_RETURN_IF_ERROR(Number(j, "expiration_time", &r.expiration_time));
  FABRIC_RETURN_IF_ERROR(Number(j, "signal", &signal));
  auto scope = j.find("scope_id");
  if (scope == j.end() || !scope->is_string()) return Bad("has no string 'scope_id'");
  if (!(pid > 0) || pid != std::floor(pid) || pid > 1e9) {
    return Bad(absl::StrCat("has pid ", pid));
  }
  if (!std::isfinite(r.expiration_time)) return Bad("has a non-finite expiration_time");
  if (!std::isfinite(signal) || signal != std::floor(signal) || signal > 64 || signal < -64) {
    return Bad(absl::StrCat("has signal ", signal));
  }
  r.pid = static_cast<pid_t>(pid);
  r.signal = static_cast<int>(signal);
  r.scope_id = scope->get<std::string>();
  return r;
}

Watchdog::Watchdog(absl::Duration hang_timeout, std::vector<pid_t> pids, absl::Time start)
    : hang_timeout_(hang_timeout),
      pids_(std::move(pids)),
      forgotten_(pids_.size(), false),
      beats_(pids_.size()) {
  for (Beat& b : beats_) b.changed = start;
}

int Watchdog::RankOf(pid_t pid) const {
  for (size_t i = 0; i < pids_.size(); ++i) {
    if (pids_[i] == pid) return static_cast<int>(i);
  }
  return -1;
}

bool Watchdog::OnTimerRequest(const FileTimerRequest& request, absl::Time now) {
  const int rank = RankOf(request.pid);
  if (rank < 0 || forgotten_[rank]) return false;
  const auto key = std::make_pair(rank, request.scope_id);
  if (request.expiration_time < 0) {
    timers_.erase(key);
  } else {
    timers_[key] = Timer{absl::FromUnixNanos(static_cast<int64_t>(request.expiration_time * 1e9)),
                         now, request.signal};
  }
  return true;
}

void Watchdog::OnHeartbeat(int local_rank, uint64_t counter, absl::Time now) {
  if (local_rank < 0 || local_rank >= static_cast<int>(beats_.size())) return;
  Beat& b = beats_[local_rank];
  if (!b.seen && counter == 0) return;  // never beaten
  if (!b.seen || counter != b.counter) {
    b.seen = true;
    b.counter = counter;
    b.changed = now;
  }
}

void Watchdog::Forget(int local_rank) {
  if (local_rank < 0 || local_rank >= static_cast<int>(forgotten_.size())) return;
  forgotten_[local_rank] = true;
  for (auto it = timers_.begin(); it != timers_.end();) {
    it = it->first.first == local_rank ? timers_.erase(it) : std::next(it);
  }
}

void Watchdog::Replace(int local_rank, pid_t pid) {
  if (local_rank < 0 || local_rank >= static_cast<int>(forgotten_.size())) return;
  Forget(local_rank);  // the old process's timers
  pids_[local_rank] = pid;
  forgotten_[local_rank] = false;
  beats_[local_rank] = Beat{};
}

absl::Duration Watchdog::SamplePeriod() const {
  return std::min(hang_timeout_ / 4, absl::Seconds(1));
}

std::optional<absl::Time> Watchdog::NextCheck(absl::Time now) const {
  std::optional<absl::Time> next;
  auto consider = [&](absl::Time t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [key, t] : timers_) consider(t.expires);
  if (watches_heartbeats()) {
    for (size_t i = 0; i < beats_.size(); ++i) {
      if (!forgotten_[i] && beats_[i].seen) consider(beats_[i].changed + hang_timeout_);
    }
    consider(now + SamplePeriod());
  }
  return next;
}

std::vector<Hang> Watchdog::Expired(absl::Time now) {
  std::vector<Hang> out;
  std::vector<bool> hung(pids_.size(), false);
  for (const auto& [key, t] : timers_) {
    const int rank = key.first;
    if (t.expires > now || hung[rank]) continue;
    if (t.signal <= 0) continue;  // torch: a timer without a signal does not reap
    hung[rank] = true;
    out.push_back(Hang{rank, pids_[rank],
                       absl::StrCat("its timer '", key.second, "' expired (set for ",
                                    absl::FormatDuration(
                                        absl::Trunc(t.expires - t.set_at, absl::Milliseconds(100))),
                                    " by `expires(after=...)`)"),
                       t.signal});
  }
  // Unreaping timers that expired are dropped, as torch's server drops them.
  for (auto it = timers_.begin(); it != timers_.end();) {
    it = (it->second.expires <= now && it->second.signal <= 0) ? timers_.erase(it) : std::next(it);
  }
  if (watches_heartbeats()) {
    for (size_t i = 0; i < beats_.size(); ++i) {
      if (forgotten_[i] || hung[i] || !beats_[i].seen) continue;
      const absl::Duration quiet = now - beats_[i].changed;
      if (quiet < hang_timeout_) continue;
      hung[i] = true;
      out.push_back(
          Hang{static_cast<int>(i), pids_[i],
               absl::StrCat("no heartbeat for ",
                            absl::FormatDuration(absl::Trunc(quiet, absl::Seconds(1))),
                            " (--hang-timeout ", absl::FormatDuration(hang_timeout_), ")"),
               9});
    }
  }
  for (const Hang& h : out) Forget(h.local_rank);
  return out;
}

}  // namespace fabric::launcher
