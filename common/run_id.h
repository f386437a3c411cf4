// The run id (TORCHELASTIC_RUN_ID, the rendezvous' run): its forms, decided here only.
//   slurm-<job>.<step>   inside a SLURM job (step 0 outside an srun step)
//   fabric-<pid>-<hex>   one node, nothing shared: unique per invocation
//   fabric-<hex>         several nodes that must agree without talking: from the
//                        rendezvous address they share
// A given --run-id / --rdzv-id is used as is once IsValidRunId accepts it.
#ifndef FABRIC_COMMON_RUN_ID_H_
#define FABRIC_COMMON_RUN_ID_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fabric {

std::string SlurmRunId(int64_t job_id, int64_t step_id);
// `salt` makes two invocations in the same process differ (e.g. the current time).
std::string LocalRunId(int pid, absl::Time salt);
std::string SharedRunId(absl::string_view rendezvous_address);
// Up to 128 of [A-Za-z0-9._-], not empty.
bool IsValidRunId(absl::string_view id);

}  // namespace fabric

#endif  // FABRIC_COMMON_RUN_ID_H_
