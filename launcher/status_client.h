// `fabric-run status [RUN-ID] [--json]`: asks the agents of this machine what their jobs are
// doing (GET /status on each agent's status socket, launcher/agent.h) and prints it.
//
// Finding the jobs: every agent keeps its socket at $TMPDIR/fabric-run-XXXXXX/status.sock
// (TMPDIR as the agent saw it; /tmp when unset), in a directory only its user can enter, the
// socket itself mode 0600. The command looks at the same place with its own TMPDIR. A
// socket of another user is not asked (its user must run the command); a socket that
// refuses (its agent died without removing it) is stale. The agents of one job's nodes on
// this machine (one run id) are shown as one job (MergeNodes). With no RUN-ID: one job is shown;
// several are listed, one line each. With RUN-ID: that job, or a line naming the jobs that
// do run here. Exit status: 0 when a job was shown or listed; 1 with one line on stderr
// when none could be (none runs, none of this user, stale, no answer within 5 s); 2 for a
// bad command line.
#ifndef FABRIC_LAUNCHER_STATUS_CLIENT_H_
#define FABRIC_LAUNCHER_STATUS_CLIENT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/worker_env.h"
#include "launcher/job_status.h"

namespace fabric::launcher {

// One GET of `path` on the Unix socket `socket_path`: the response's body for a 200;
// Unavailable when nobody listens (stale), DeadlineExceeded after `timeout`, Internal for
// another error or status code.
absl::StatusOr<std::string> HttpGetUnix(const std::string& socket_path, const std::string& path,
                                        absl::Duration timeout);

// All of `text` to `fd` (short writes continued; stops at an error). The commands' output.
void WriteAll(int fd, const std::string& text);

// Where the agents' directories are: $TMPDIR, or /tmp when unset or empty.
std::string StatusBase(const EnvMap& env);

// This user's jobs with a status socket under `base`, each merged over its nodes' agents
// on this machine, in run id order; when there is none, `nothing` is the one line saying why.
struct JobSearch {
  std::vector<JobStatus> jobs;
  std::string nothing;
};
JobSearch FindJobs(const std::string& base);

// Runs the command (`args`: what follows the word `status`); writes to `out_fd`/`err_fd`.
int RunStatusCommand(const std::vector<std::string>& args, const EnvMap& env, int out_fd,
                     int err_fd);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_STATUS_CLIENT_H_
