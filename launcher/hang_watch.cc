#include "launcher/hang_watch.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/worker_control.h"
#include "launcher/fabric_heartbeat_py.h"

namespace fabric::launcher {
namespace {

// The Python helper, written to the agent's directory and put on PYTHONPATH.
// launcher/fabric_heartbeat.py, embedded at build time (fabric_heartbeat_py.h).
constexpr const char* kHelper = kFabricHeartbeatPy;

absl::Status WriteFile(const std::string& path, absl::string_view data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("create ", path, ": ", std::strerror(errno)));
  bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  close(fd);
  if (!ok) return absl::InternalError(absl::StrCat("write ", path));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<HangWatch>> HangWatch::Create(
    const std::string& dir, absl::Duration hang_timeout, Clock* clock, ProcessLauncher* launcher,
    std::function<void(const std::string&)> say) {
  std::unique_ptr<HangWatch> w(new HangWatch(dir, hang_timeout, clock, launcher, std::move(say)));
  w->fifo_path_ = TimerFifo(dir);
  unlink(w->fifo_path_.c_str());
  if (mkfifo(w->fifo_path_.c_str(), 0600) != 0) {
    return absl::InternalError(absl::StrCat("mkfifo ", w->fifo_path_, ": ", std::strerror(errno)));
  }
  w->fifo_read_ = open(w->fifo_path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  w->fifo_keep_ = open(w->fifo_path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (w->fifo_read_ < 0 || w->fifo_keep_ < 0) {
    return absl::InternalError(absl::StrCat("open ", w->fifo_path_, ": ", std::strerror(errno)));
  }
  w->helper_path_ = absl::StrCat(dir, "/fabric_heartbeat.py");
  if (absl::Status st = WriteFile(w->helper_path_, kHelper); !st.ok()) return st;
  return w;
}

HangWatch::~HangWatch() {
  EndAttempt();
  for (int fd : {fifo_read_, fifo_keep_}) {
    if (fd >= 0) close(fd);
  }
  if (!fifo_path_.empty()) unlink(fifo_path_.c_str());
  if (!helper_path_.empty()) {
    unlink(helper_path_.c_str());
    // Python caches the imported helper's bytecode next to it (fabric_heartbeat.*.pyc);
    // left there, it would keep the agent's directory from being removed.
    const std::string cache = absl::StrCat(dir_, "/__pycache__");
    if (DIR* d = opendir(cache.c_str())) {
      while (dirent* e = readdir(d)) {
        if (absl::StartsWith(e->d_name, "fabric_heartbeat.")) {
          unlink(absl::StrCat(cache, "/", e->d_name).c_str());
        }
      }
      closedir(d);
      rmdir(cache.c_str());  // fails, harmlessly, when something else is cached there
    }
  }
}

std::string HangWatch::TimerFifo(const std::string& dir) {
  return absl::StrCat(dir, "/timer.fifo");
}

std::string HangWatch::BeatFile(const std::string& dir, int restart, int local_rank) {
  return absl::StrCat(dir, "/attempt_", restart, "_rank_", local_rank, ".beat");
}

void HangWatch::AddWorkerEnv(const std::string& dir, const std::string& beat_file, EnvMap* env) {
  (*env)[kEnvEnableFileTimer] = "1";
  (*env)[kEnvTimerFile] = TimerFifo(dir);
  (*env)[kEnvHeartbeatFile] = beat_file;
  env->emplace("PYTHONFAULTHANDLER", "1");  // a Python worker's stack on SIGABRT
  auto it = env->find("PYTHONPATH");
  (*env)["PYTHONPATH"] = it == env->end() || it->second.empty()
                             ? dir
                             : absl::StrCat(it->second, ":", dir);  // last: never shadows
}

absl::Status HangWatch::AddBeatFile(int local_rank, const std::string& path) {
  FABRIC_RETURN_IF_ERROR(WriteFile(path, NewHeartbeatFile()));
  if (static_cast<int>(beat_paths_.size()) <= local_rank) beat_paths_.resize(local_rank + 1);
  beat_paths_[local_rank] = path;
  return absl::OkStatus();
}

void HangWatch::StartAttempt(std::vector<pid_t> pids, std::vector<int> global_ranks) {
  pids_ = std::move(pids);
  global_ranks_ = std::move(global_ranks);
  reasons_.clear();
  kills_.clear();
  watchdog_ = std::make_unique<Watchdog>(hang_timeout_, pids_, clock_->TimeNow());
  observed_.assign(pids_.size(), Observed{});
  beat_fds_.assign(pids_.size(), -1);
  for (size_t i = 0; i < pids_.size() && i < beat_paths_.size(); ++i) {
    if (!beat_paths_[i].empty()) beat_fds_[i] = open(beat_paths_[i].c_str(), O_RDONLY | O_CLOEXEC);
  }
}

void HangWatch::EndAttempt() {
  for (int fd : beat_fds_) {
    if (fd >= 0) close(fd);
  }
  beat_fds_.clear();
  for (const std::string& p : beat_paths_) {
    if (!p.empty()) unlink(p.c_str());
  }
  beat_paths_.clear();
  watchdog_.reset();
  pids_.clear();
  global_ranks_.clear();
  observed_.clear();
}

void HangWatch::OnFifoReadable() {
  char buf[4096];
  for (;;) {
    ssize_t n = read(fifo_read_, buf, sizeof(buf));
    if (n <= 0) break;
    partial_.append(buf, static_cast<size_t>(n));
  }
  size_t nl;
  while ((nl = partial_.find('\n')) != std::string::npos) {
    const std::string line = partial_.substr(0, nl);
    partial_.erase(0, nl + 1);
    if (line.empty()) continue;
    absl::StatusOr<FileTimerRequest> r = ParseFileTimerRequest(line);
    if (!r.ok()) {
      LogWarning("ignoring a line of ", fifo_path_, ": ", r.status().message());
      continue;
    }
    if (watchdog_ != nullptr) watchdog_->OnTimerRequest(*r, clock_->TimeNow());
  }
  if (partial_.size() > (1 << 16)) partial_.clear();  // no newline in 64 KiB: garbage
}

void HangWatch::OnWorkerExit(pid_t pid) {
  for (size_t i = 0; i < pids_.size(); ++i) {
    if (pids_[i] == pid && watchdog_ != nullptr) watchdog_->Forget(static_cast<int>(i));
  }
  for (auto it = kills_.begin(); it != kills_.end();) {
    it = it->pid == pid ? kills_.erase(it) : std::next(it);
  }
}

void HangWatch::OnWorkerReplaced(int local_rank, pid_t pid) {
  if (local_rank < 0 || local_rank >= static_cast<int>(pids_.size())) return;
  pids_[local_rank] = pid;
  reasons_.erase(local_rank);
  if (watchdog_ != nullptr) watchdog_->Replace(local_rank, pid);
}

std::optional<absl::Time> HangWatch::NextDeadline() const {
  std::optional<absl::Time> next;
  if (watchdog_ != nullptr) next = watchdog_->NextCheck(clock_->TimeNow());
  if (!beat_fds_.empty()) {
    const absl::Time sample = last_sample_ == absl::InfinitePast()
                                  ? clock_->TimeNow()
                                  : last_sample_ + kProgressSampleInterval;
    if (!next || sample < *next) next = sample;
  }
  for (const PendingKill& k : kills_) {
    if (!next || k.at < *next) next = k.at;
  }
  return next;
}

std::optional<HeartbeatWords> HangWatch::ReadBeats(int local_rank) const {
  if (local_rank < 0 || local_rank >= static_cast<int>(beat_fds_.size()) ||
      beat_fds_[local_rank] < 0) {
    return std::nullopt;
  }
  char b[kHeartbeatFileSize];
  const ssize_t n = pread(beat_fds_[local_rank], b, sizeof(b), 0);
  if (n <= 0) return std::nullopt;
  absl::StatusOr<HeartbeatWords> w = DecodeHeartbeat(absl::string_view(b, static_cast<size_t>(n)));
  if (!w.ok()) return std::nullopt;
  return *w;
}

std::optional<uint64_t> HangWatch::ShrinksTaken(int local_rank) const {
  std::optional<HeartbeatWords> w = ReadBeats(local_rank);
  if (!w.has_value()) return std::nullopt;
  return w->shrinks_taken;
}

void HangWatch::Observe(int local_rank, const HeartbeatWords& words, absl::Time now) {
  if (local_rank < 0 || local_rank >= static_cast<int>(observed_.size())) return;
  Observed& o = observed_[local_rank];
  if (words.beats != 0 && (!o.seen || words.beats != o.beats)) {
    o.seen = true;
    o.changed = now;
  }
  o.beats = words.beats;
  o.step = words.step;
  o.total = words.total;
  if (words.step.has_value()) o.estimator.Add(now, *words.step);
}

void HangWatch::SampleProgress() {
  const absl::Time now = clock_->TimeNow();
  last_sample_ = now;
  for (size_t i = 0; i < beat_fds_.size(); ++i) {
    if (std::optional<HeartbeatWords> w = ReadBeats(static_cast<int>(i))) {
      Observe(static_cast<int>(i), *w, now);
    }
  }
}

std::optional<RankProgress> HangWatch::Progress(int local_rank) const {
  if (local_rank < 0 || local_rank >= static_cast<int>(pids_.size())) return std::nullopt;
  RankProgress p;
  p.local_rank = local_rank;
  if (local_rank < static_cast<int>(global_ranks_.size()))
    p.global_rank = global_ranks_[local_rank];
  p.pid = pids_[local_rank];
  p.heartbeat_file = local_rank < static_cast<int>(beat_fds_.size()) && beat_fds_[local_rank] >= 0;
  if (!p.heartbeat_file || local_rank >= static_cast<int>(observed_.size())) return p;
  const Observed& o = observed_[local_rank];
  p.beats = o.beats;
  if (o.seen) p.last_beat_change = o.changed;
  p.step = o.step;
  p.total = o.total;
  if (o.step.has_value()) {  // a rate only while the rank reports its step
    p.steps_per_second = o.estimator.StepsPerSecond();
    if (o.total.has_value()) p.eta = o.estimator.Eta(*o.total);
  }
  return p;
}

std::vector<RankProgress> HangWatch::AllProgress() const {
  std::vector<RankProgress> all;
  for (int i = 0; i < static_cast<int>(pids_.size()); ++i) {
    if (std::optional<RankProgress> p = Progress(i)) all.push_back(*p);
  }
  return all;
}

void HangWatch::OnTimer() {
  const absl::Time now = clock_->TimeNow();
  if (watchdog_ == nullptr) {
    if (!beat_fds_.empty() && now >= last_sample_ + kProgressSampleInterval) SampleProgress();
    return;
  }
  last_sample_ = now;
  for (size_t i = 0; i < beat_fds_.size(); ++i) {
    if (std::optional<HeartbeatWords> w = ReadBeats(static_cast<int>(i))) {
      watchdog_->OnHeartbeat(static_cast<int>(i), w->beats, now);
      Observe(static_cast<int>(i), *w, now);
    }
  }
  for (const Hang& h : watchdog_->Expired(now)) {
    const int rank = h.local_rank < static_cast<int>(global_ranks_.size())
                         ? global_ranks_[h.local_rank]
                         : h.local_rank;
    reasons_[h.local_rank] = h.reason;
    say_(absl::StrCat("fabric-run: rank ", rank, " (pid ", h.pid, ") is hung: ", h.reason,
                      "; capturing its stack (SIGABRT), then stopping it\n"));
    if (on_hang_) on_hang_(rank, h.pid, h.reason);
    (void)launcher_->SignalProcess(h.pid, SIGABRT);
    kills_.push_back(PendingKill{h.pid, h.signal, now + capture_time_});
  }
  for (auto it = kills_.begin(); it != kills_.end();) {
    if (it->at <= now) {
      (void)launcher_->SignalProcess(it->pid, it->signal);
      it = kills_.erase(it);
    } else {
      ++it;
    }
  }
}

const std::string* HangWatch::HangReason(int local_rank) const {
  auto it = reasons_.find(local_rank);
  return it == reasons_.end() ? nullptr : &it->second;
}

}  // namespace fabric::launcher
