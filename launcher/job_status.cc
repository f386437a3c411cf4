#include "launcher/job_status.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace fabric::launcher {
namespace {

using Json = nlohmann::ordered_json;

template <typename T>
Json OrNull(const std::optional<T>& v) {
  return v.has_value() ? Json(*v) : Json(nullptr);
}

// Reads key `k` of `j` into `*out` when present and not null; false for a wrong type.
template <typename T>
bool Get(const Json& j, const char* k, std::optional<T>* out) {
  auto it = j.find(k);
  if (it == j.end() || it->is_null()) return true;
  try {
    *out = it->get<T>();
  } catch (const Json::exception&) {
    return false;
  }
  return true;
}

template <typename T>
bool Need(const Json& j, const char* k, T* out) {
  std::optional<T> v;
  if (!Get(j, k, &v) || !v.has_value()) return false;
  *out = *v;
  return true;
}

std::string Bytes(std::optional<uint64_t> b) {
  if (!b) return "-";
  const double v = static_cast<double>(*b);
  if (v >= 1e9) return absl::StrFormat("%.1fG", v / (1 << 30));
  return absl::StrFormat("%.0fM", v / (1 << 20));
}

std::string StateText(const RankStatus& r) {
  std::string s = RankStateName(r.state);
  if (r.state == RankState::kExited) {
    if (r.signal) absl::StrAppend(&s, "(", *r.signal, ")");
    if (r.exit_code) absl::StrAppend(&s, "(", *r.exit_code, ")");
  }
  return s;
}

}  // namespace

const char* RankStateName(RankState s) {
  switch (s) {
    case RankState::kStarting: return "starting";
    case RankState::kRunning: return "running";
    case RankState::kHung: return "hung";
    case RankState::kExited: return "exited";
    case RankState::kReplaced: return "replaced";
  }
  return "unknown";
}

JobStatus MergeNodes(std::vector<JobStatus> all) {
  std::vector<JobStatus> nodes;
  std::set<int> seen;
  for (JobStatus& n : all) {
    if (seen.insert(n.node_rank).second) nodes.push_back(std::move(n));
  }
  std::stable_sort(nodes.begin(), nodes.end(), [](const JobStatus& a, const JobStatus& b) {
    return a.node_rank < b.node_rank;
  });
  JobStatus job = nodes[0];
  job.peers.clear();
  job.peers_pending = false;
  for (size_t i = 1; i < nodes.size(); ++i) {
    JobStatus& n = nodes[i];
    job.num_nodes = std::max(job.num_nodes, n.num_nodes);
    if (job.last_failure.empty()) job.last_failure = n.last_failure;
    for (RankStatus& r : n.ranks) job.ranks.push_back(std::move(r));
  }
  std::stable_sort(
      job.ranks.begin(), job.ranks.end(),
      [](const RankStatus& a, const RankStatus& b) { return a.global_rank < b.global_rank; });
  return job;
}

namespace {

Json ToJson(const JobStatus& s);

}  // namespace

std::string EncodeJobStatus(const JobStatus& s) {
  return ToJson(s).dump(-1, ' ', false, Json::error_handler_t::replace);
}

namespace {

Json ToJson(const JobStatus& s) {
  Json ranks = Json::array();
  for (const RankStatus& r : s.ranks) {
    ranks.push_back(Json{{"global_rank", r.global_rank},
                         {"local_rank", r.local_rank},
                         {"node", r.node},
                         {"pid", static_cast<int64_t>(r.pid)},
                         {"state", RankStateName(r.state)},
                         {"exit_code", OrNull(r.exit_code)},
                         {"signal", OrNull(r.signal)},
                         {"heartbeat_age_s", OrNull(r.heartbeat_age_s)},
                         {"step", OrNull(r.step)},
                         {"total_steps", OrNull(r.total_steps)},
                         {"step_rate", OrNull(r.step_rate)},
                         {"eta_s", OrNull(r.eta_s)},
                         {"rss_bytes", OrNull(r.rss_bytes)},
                         {"cpu_s", OrNull(r.cpu_s)},
                         {"stack_file", OrNull(r.stack_file)}});
  }
  Json j{{"run_id", s.run_id},
         {"backend", s.backend},
         {"hostname", s.hostname},
         {"agent_pid", static_cast<int64_t>(s.agent_pid)},
         {"node_rank", s.node_rank},
         {"num_nodes", s.num_nodes},
         {"round", s.round},
         {"attempt", s.attempt},
         {"restarts_used", s.restarts_used},
         {"max_restarts", s.max_restarts},
         {"restarts_left", s.restarts_left},
         {"recovery", s.recovery},
         {"world_size", s.world_size},
         {"last_failure", s.last_failure.empty() ? Json(nullptr) : Json(s.last_failure)},
         {"ranks", std::move(ranks)}};
  if (!s.peers.empty() || s.peers_pending) {
    Json peers = Json::array();
    for (const JobStatus& p : s.peers) peers.push_back(ToJson(p));
    j["peers"] = std::move(peers);
    j["peers_pending"] = s.peers_pending;
  }
  return j;
}

}  // namespace

namespace {

absl::StatusOr<JobStatus> FromJson(const Json& j, int depth);

}  // namespace

absl::StatusOr<JobStatus> DecodeJobStatus(absl::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  return FromJson(j, 0);
}

namespace {

absl::StatusOr<JobStatus> FromJson(const Json& j, int depth) {
  const auto bad = [](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("not a fabric-run status: ", what));
  };
  if (!j.is_object()) return bad("not a JSON object");
  JobStatus s;
  int64_t agent_pid = -1;
  std::optional<std::string> failure;
  if (!Need(j, "run_id", &s.run_id) || !Need(j, "backend", &s.backend) ||
      !Need(j, "hostname", &s.hostname) || !Need(j, "agent_pid", &agent_pid) ||
      !Need(j, "node_rank", &s.node_rank) || !Need(j, "num_nodes", &s.num_nodes) ||
      !Need(j, "round", &s.round) || !Need(j, "attempt", &s.attempt) ||
      !Need(j, "restarts_used", &s.restarts_used) || !Need(j, "max_restarts", &s.max_restarts) ||
      !Need(j, "restarts_left", &s.restarts_left) || !Need(j, "recovery", &s.recovery) ||
      !Need(j, "world_size", &s.world_size) || !Get(j, "last_failure", &failure)) {
    return bad("a job key is missing or of the wrong type");
  }
  s.agent_pid = static_cast<pid_t>(agent_pid);
  s.last_failure = failure.value_or("");
  auto ranks = j.find("ranks");
  if (ranks == j.end() || !ranks->is_array()) return bad("no ranks array");
  for (const Json& x : *ranks) {
    if (!x.is_object()) return bad("a rank is not an object");
    RankStatus r;
    int64_t pid = -1;
    std::string state;
    if (!Need(x, "global_rank", &r.global_rank) || !Need(x, "local_rank", &r.local_rank) ||
        !Need(x, "node", &r.node) || !Need(x, "pid", &pid) || !Need(x, "state", &state) ||
        !Get(x, "exit_code", &r.exit_code) || !Get(x, "signal", &r.signal) ||
        !Get(x, "heartbeat_age_s", &r.heartbeat_age_s) || !Get(x, "step", &r.step) ||
        !Get(x, "total_steps", &r.total_steps) || !Get(x, "step_rate", &r.step_rate) ||
        !Get(x, "eta_s", &r.eta_s) || !Get(x, "rss_bytes", &r.rss_bytes) ||
        !Get(x, "cpu_s", &r.cpu_s) || !Get(x, "stack_file", &r.stack_file)) {
      return bad("a rank key is missing or of the wrong type");
    }
    r.pid = static_cast<pid_t>(pid);
    bool known = false;
    for (RankState st : {RankState::kStarting, RankState::kRunning, RankState::kHung,
                         RankState::kExited, RankState::kReplaced}) {
      if (state == RankStateName(st)) {
        r.state = st;
        known = true;
      }
    }
    if (!known) return bad(absl::StrCat("unknown rank state '", state, "'"));
    s.ranks.push_back(std::move(r));
  }
  std::optional<bool> pending;
  if (!Get(j, "peers_pending", &pending)) return bad("peers_pending is not a bool");
  s.peers_pending = pending.value_or(false);
  if (auto peers = j.find("peers"); peers != j.end() && !peers->is_null()) {
    if (!peers->is_array() || depth > 0) return bad("peers is not an array of node statuses");
    for (const Json& p : *peers) {
      absl::StatusOr<JobStatus> peer = FromJson(p, depth + 1);
      if (!peer.ok()) return peer.status();
      s.peers.push_back(*std::move(peer));
    }
  }
  return s;
}

}  // namespace

std::string FormatJobStatus(const JobStatus& s) {
  std::string out = absl::StrCat(
      "run ", s.run_id, "  backend ", s.backend, "  node ", s.node_rank, "/", s.num_nodes, " (",
      s.hostname, ", agent pid ", s.agent_pid, ")\n", "round ", s.round, "  attempt ", s.attempt,
      "  restarts ", s.restarts_used, " used, ", s.restarts_left, " left (max ", s.max_restarts,
      ")  recovery ", s.recovery, "  world size ", s.world_size, "\n");
  absl::StrAppend(&out, "last failure: ", s.last_failure.empty() ? "none" : s.last_failure, "\n");
  absl::StrAppend(&out,
                  absl::StrFormat("%-5s %-16s %-8s %-14s %-8s %-13s %-8s %-7s %s\n", "RANK", "NODE",
                                  "PID", "STATE", "BEAT", "STEP", "STEP/S", "RSS", "CPU"));
  for (const RankStatus& r : s.ranks) {
    std::string step = r.step ? absl::StrCat(*r.step) : "-";
    if (r.step && r.total_steps) absl::StrAppend(&step, "/", *r.total_steps);
    absl::StrAppend(
        &out,
        absl::StrFormat("%-5d %-16s %-8d %-14s %-8s %-13s %-8s %-7s %s\n", r.global_rank,
                        r.node.substr(0, 16), r.pid, StateText(r),
                        r.heartbeat_age_s ? absl::StrFormat("%.1fs", *r.heartbeat_age_s) : "-",
                        step, r.step_rate ? absl::StrFormat("%.2f", *r.step_rate) : "-",
                        Bytes(r.rss_bytes), r.cpu_s ? absl::StrFormat("%.1fs", *r.cpu_s) : "-"));
  }
  return out;
}

}  // namespace fabric::launcher
