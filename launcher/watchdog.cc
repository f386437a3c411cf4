#include "launcher/watchdog.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace fabric::launcher {
namespace {

// A cursor over one JSON object of string and number members (what FileTimerClient
// writes with json.dumps). Nested values are refused.
class FlatJson {
 public:
  explicit FlatJson(absl::string_view s) : s_(s) {}

  absl::Status Parse(std::map<std::string, std::string>* strings,
                     std::map<std::string, double>* numbers) {
    Skip();
    if (!Eat('{')) return Bad("does not start with {");
    Skip();
    if (Eat('}')) return absl::OkStatus();
    for (;;) {
      Skip();
      std::string key;
      if (absl::Status st = String(&key); !st.ok()) return st;
      Skip();
      if (!Eat(':')) return Bad("has no ':' after a key");
      Skip();
      if (i_ < s_.size() && s_[i_] == '"') {
        std::string v;
        if (absl::Status st = String(&v); !st.ok()) return st;
        (*strings)[key] = v;
      } else {
        size_t start = i_;
        while (i_ < s_.size() && (absl::ascii_isdigit(s_[i_]) || s_[i_] == '-' || s_[i_] == '+' ||
                                  s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) {
          ++i_;
        }
        double v = 0;
        if (!absl::SimpleAtod(s_.substr(start, i_ - start), &v)) {
          return Bad(absl::StrCat("has a value of '", key, "' that is not a string or number"));
        }
        (*numbers)[key] = v;
      }
      Skip();
      if (Eat('}')) break;
      if (!Eat(',')) return Bad("has no ',' between members");
    }
    Skip();
    if (i_ != s_.size()) return Bad("has text after the object");
    return absl::OkStatus();
  }

 private:
  static absl::Status Bad(absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("file-timer request ", what));
  }
  void Skip() {
    while (i_ < s_.size() && absl::ascii_isspace(s_[i_])) ++i_;
  }
  bool Eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  absl::Status String(std::string* out) {
    if (!Eat('"')) return Bad("has a key that is not a string");
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (c == '\\') {
        if (i_ >= s_.size()) return Bad("ends inside an escape");
        char e = s_[i_++];
        switch (e) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case 'u': {  // kept as written: scope ids are for messages only
            if (i_ + 4 > s_.size()) return Bad("has a short \\u escape");
            absl::StrAppend(out, "\\u", s_.substr(i_, 4));
            i_ += 4;
            continue;
          }
          default: c = e;  // \" \\ \/
        }
      }
      out->push_back(c);
    }
    if (!Eat('"')) return Bad("has an unterminated string");
    return absl::OkStatus();
  }

  absl::string_view s_;
  size_t i_ = 0;
};

}  // namespace

absl::StatusOr<FileTimerRequest> ParseFileTimerRequest(absl::string_view line) {
  std::map<std::string, std::string> strings;
  std::map<std::string, double> numbers;
  if (absl::Status st = FlatJson(line).Parse(&strings, &numbers); !st.ok()) return st;
  FileTimerRequest r;
  auto number = [&](const char* key, double* out) -> absl::Status {
    auto it = numbers.find(key);
    if (it == numbers.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("file-timer request has no number '", key, "'"));
    }
    *out = it->second;
    return absl::OkStatus();
  };
  double pid = 0, signal = 0, version = 0;
  if (absl::Status st = number("version", &version); !st.ok()) return st;
  if (version != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("file-timer request has version ", version, "; fabric-run reads version 1"));
  }
  if (absl::Status st = number("pid", &pid); !st.ok()) return st;
  if (absl::Status st = number("expiration_time", &r.expiration_time); !st.ok()) return st;
  if (absl::Status st = number("signal", &signal); !st.ok()) return st;
  auto scope = strings.find("scope_id");
  if (scope == strings.end()) {
    return absl::InvalidArgumentError("file-timer request has no string 'scope_id'");
  }
  if (pid <= 0 || pid != std::floor(pid) || pid > 1e9) {
    return absl::InvalidArgumentError(absl::StrCat("file-timer request has pid ", pid));
  }
  if (!std::isfinite(r.expiration_time)) {
    return absl::InvalidArgumentError("file-timer request has a non-finite expiration_time");
  }
  if (signal != std::floor(signal) || signal > 64) {
    return absl::InvalidArgumentError(absl::StrCat("file-timer request has signal ", signal));
  }
  r.pid = static_cast<pid_t>(pid);
  r.signal = static_cast<int>(signal);
  r.scope_id = scope->second;
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
