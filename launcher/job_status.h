// JobStatus: what `fabric-run status` shows of a running job, as the agent sees it now. The
// agent builds it on request (agent_status.cc) and serves it as JSON on its status socket
// (GET /status); the client decodes and prints it (status_client.h); the agent's Prometheus
// gauges come from the same snapshot (agent_metrics.h). Pure: JSON through nlohmann, no I/O.
//
// JSON (doc/status.md lists every key): {"run_id", "backend", "node_rank", "num_nodes",
// "round", "attempt", "restarts_used", "restarts_left", "max_restarts", "recovery",
// "world_size", "agent_pid", "hostname", "last_failure", "ranks": [{"global_rank",
// "local_rank", "node", "pid", "state", "exit_code", "signal", "heartbeat_age_s", "step",
// "total_steps", "step_rate", "eta_s", "rss_bytes", "cpu_s", "stack_file"}]}; an unknown
// value is null.
#ifndef FABRIC_LAUNCHER_JOB_STATUS_H_
#define FABRIC_LAUNCHER_JOB_STATUS_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fabric::launcher {

// A rank's state: starting (not spawned yet), running, hung (the hang watch stopped it), exited (code or signal), replaced (its
// process failed and another took the rank in place: the new one has its own row).
enum class RankState { kStarting, kRunning, kHung, kExited, kReplaced };
const char* RankStateName(RankState s);

struct RankStatus {
  int global_rank = 0;
  int local_rank = 0;
  std::string node;  // the hostname of its agent
  pid_t pid = -1;
  RankState state = RankState::kStarting;
  std::optional<int> exit_code;           // exited with a code
  std::optional<std::string> signal;      // exited by a signal ("SIGKILL")
  std::optional<double> heartbeat_age_s;  // since the agent saw its last beat
  std::optional<uint64_t> step;           // the step it reported last
  std::optional<uint64_t> total_steps;    // when the trainer told it
  std::optional<double> step_rate;        // steps per second, recent
  std::optional<double> eta_s;            // with a total and a rate
  std::optional<uint64_t> rss_bytes;      // of its process group (the OS's count)
  std::optional<double> cpu_s;            // user + system, of its process group
  // The C++ runtime's live-stack file (common/worker_control.h, 4) when the rank has one:
  // it handles the stack-dump signal (fabric-run stacks).
  std::optional<std::string> stack_file;
};

struct JobStatus {
  std::string run_id;
  std::string backend;  // "local" (one node), "embedded" or "standalone" rendezvous
  std::string hostname;
  pid_t agent_pid = -1;
  int node_rank = 0;
  int num_nodes = 1;
  int64_t round = 0;
  int attempt = 0;  // the restart count of the attempt running (0: the first)
  int restarts_used = 0;
  int max_restarts = 0;
  int restarts_left = 0;
  std::string recovery;  // "gang" or "in-place"
  int world_size = 0;
  std::string last_failure;  // the last root cause, one line; empty: none yet
  std::vector<RankStatus> ranks;
  // A multi-node job: the other nodes' statuses as this agent last fetched them from the
  // rendezvous ("peers"; their own peers empty), or peers_pending when it has asked and
  // not heard yet (the client asks again shortly).
  std::vector<JobStatus> peers;
  bool peers_pending = false;
};

// One job from the statuses of its nodes' agents (the same run id): the job's facts from
// the lowest node rank's, num_nodes the most any reports, every node's ranks in global rank
// order, the last failure any node saw. A node rank given twice (an agent's own status and
// a peer's copy of it) counts once: the first given wins. Peers are not merged in (the
// caller adds them to `nodes`). REQUIRES: !nodes.empty().
JobStatus MergeNodes(std::vector<JobStatus> nodes);

std::string EncodeJobStatus(const JobStatus& s);  // one JSON object, no newline
// InvalidArgument for text that is not a status object (keys missing or of a wrong type).
absl::StatusOr<JobStatus> DecodeJobStatus(absl::string_view json);

// The human form `fabric-run status` prints: a header of the job's facts, then one row a
// rank (columns: rank, node, pid, state, beat age, step, rate, RSS, CPU). Ends with '\n'.
std::string FormatJobStatus(const JobStatus& s);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_JOB_STATUS_H_
