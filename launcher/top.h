// `fabric-run top [RUN-ID]`: `fabric-run status`, live and full screen (ncurses), refreshed
// every second: a header (run, round, attempt, restarts, the job's step, step rate and ETA,
// the last failure) and one row a rank; `q` quits. The job is found as `status` finds it
// (status_client.h); when it ends, top ends with a line saying so.
#ifndef FABRIC_LAUNCHER_TOP_H_
#define FABRIC_LAUNCHER_TOP_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/worker_env.h"
#include "launcher/job_status.h"

namespace fabric::launcher {

// Pure: the screen's lines for `job` at `now`, each at most `width` columns.
std::vector<std::string> TopLines(const JobStatus& job, absl::Time now, int width);

// Exit status: 0 after `q` or when the job ended; 1 (one line) when no job could be shown;
// 2 for a bad command line or when stdout is not a terminal.
int RunTopCommand(const std::vector<std::string>& args, const EnvMap& env);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_TOP_H_
