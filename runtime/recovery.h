// In-place recovery (fabric-run --recovery in-place; fabric.h "In-place recovery";
// doc/runtime.md): a Fabric's live ranks re-form their process group around the process
// fabric-run started in a dead rank's place (or, told by fabric-run, with fewer ranks),
// and one of them sends the training state to every rank that is behind.
//
// Protocol, in the order every rank issues it on the re-formed group n (store keys under
// "fabric/round/<round>/recovery/<n>/"):
//   live rank (in RecoverInPlace)          replacement (Launch, first Setup, Backward)
//   forget the failed group, close it      connect to the store as a client
//   wait for ".../recovery/<n>/joined"      n = add("fabric/round/<round>/replacements")
//                                           set ".../recovery/<n>/joined"
//   form group n                           form group n
//   ElectDonor: all-gather steps done      ElectDonor (steps -1)
//   Rebind: new reducer (shape check)      Setup: strategy (shape check), no broadcast
//   TransferState: 2 broadcasts            TransferState: 2 broadcasts, load
//   redo the step's gradient all-reduce    Backward: the same all-reduce, once
// A live rank whose peers had already finished the step (the donor is one step ahead)
// loads the donor's state, skips its Step() and all-reduces in its next Backward, as
// the replacement does.
//
// Thread safety: driven by the Fabric's one thread. Ownership: a Recovery borrows the
// Fabric's state (FabricState); the Fabric owns the Recovery and outlives it.
#ifndef FABRIC_RUNTIME_RECOVERY_H_
#define FABRIC_RUNTIME_RECOVERY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/worker_control.h"
#include "runtime/communicator.h"
#include "runtime/config.h"
#include "runtime/grad_scaler.h"
#include "runtime/rng_state.h"
#include "runtime/strategy.h"

namespace fabric::runtime {

// The rank that sends the state after a re-formation: the lowest rank among those with
// the most steps (`steps[r]`: rank r's optimizer steps; a replacement's is -1). Pure.
// Returns FailedPrecondition when no rank holds a state (all -1, or none).
struct Donor {
  int rank = -1;
  int64_t steps = -1;
};
absl::StatusOr<Donor> ElectDonorFrom(const std::vector<int64_t>& steps);

// fabric-run's control FIFO (FABRIC_CONTROL_FIFO), read without blocking. The line
// format is common/worker_control.h's (DecodeShrink).
class ControlFifo {
 public:
  // `path` "": no FIFO (ReadShrink always returns nullopt). Opens nothing yet.
  explicit ControlFifo(std::string path) : path_(std::move(path)) {}
  ~ControlFifo();
  ControlFifo(const ControlFifo&) = delete;
  ControlFifo& operator=(const ControlFifo&) = delete;

  // A "shrink WORLD RANK" line, when a whole one has arrived (the FIFO is opened at the
  // first call): the job goes on with WORLD ranks and this is RANK. A malformed line is
  // reported on stderr and skipped (nullopt).
  std::optional<ShrinkCommand> ReadShrink();

 private:
  std::string path_;
  int fd_ = -1;      // opened when first read
  std::string buf_;  // what was read of it, up to a full line
};

class Recovery {
 public:
  // What recovery reads and changes of its Fabric (pointers into it).
  struct FabricState {
    RuntimeConfig* config;                // rank and world size change on a shrink
    std::unique_ptr<Communicator>* comm;  // replaced by the re-formed group
    std::unique_ptr<GradScaler>* scaler;  // 16-mixed: its state travels; else null
    int64_t* steps_done;                  // Fabric::steps_done()
    at::Device device;
  };
  // `control_fifo`, `gloo_interface`: RuntimeEnv's (runtime_env.h).
  Recovery(FabricState state, std::string control_fifo, std::string gloo_interface);
  Recovery(const Recovery&) = delete;
  Recovery& operator=(const Recovery&) = delete;

  // CommunicatorOptions for this process's current group (its re-formation number).
  CommunicatorOptions CommOptions(absl::Duration timeout) const;
  // Whether model `index` (about to be set up) takes part: in-place mode, several
  // ranks, DDP, the first model.
  bool RecoversInPlace(int index) const;
  // After the strategy is made: one line on stderr (rank 0) when in-place mode was asked
  // for but this model cannot recover in place (FSDP, a second model): a failure then
  // restarts every worker; FailedPrecondition for a replacement that cannot join.
  absl::Status CheckRecoverable(Strategy& strategy, int index) const;

  // A replacement's Launch: the store as a client, the re-formation it joins (sets
  // options' base_store and recovery). `launch_timeout`: the Launch's.
  absl::Status JoinAsReplacement(CommunicatorOptions& options, absl::Duration launch_timeout);
  // Every rank of a re-formed group: who sends the state (ElectDonorFrom).
  absl::Status ElectDonor(int64_t my_steps);
  // A replacement's first Setup: the live ranks' state (TransferState).
  absl::Status ReceiveStateAsReplacement(Strategy& strategy, torch::optim::Optimizer& optimizer);

  // Where a live rank saw its peer fail: in the buffers' broadcast before a forward (it
  // has computed nothing of the step yet), or in the step's gradient synchronisation.
  enum class Point { kBeforeForward, kGradientSync };
  // A live rank, after a collective of the step failed: re-form the group and go on
  // from `point` (redo the synchronisation, or synchronise after this backward).
  // Returns `failure`'s code with both messages when re-forming fails.
  absl::Status RecoverInPlace(Strategy& strategy, torch::optim::Optimizer& optimizer,
                              const absl::Status& failure, Point point);

  // Before a synced forward of the recovering model: the generators' states (CPU, and
  // CUDA on a GPU: rng_state.h), what a replacement's forward of this step must draw from.
  void RememberStepRng();
  // True once after a recovery that gave this rank a state one step ahead of it: its
  // next Step() must not update (the update came with the state).
  bool TakeSkipNextStep();

  int recoveries() const { return recovery_n_; }
  std::optional<int64_t> joined_at_step() const { return joined_at_step_; }

 private:
  // Waits for a replacement to join re-formation `n` or for a shrink line; true when
  // shrunk. DeadlineExceeded after config.recovery_timeout.
  absl::StatusOr<bool> WaitForReplacementOrShrink(c10d::Store& store, int n);
  // The donor's model and optimizer state, step count and RNG state to every rank;
  // ranks behind the donor (and the replacement) load it.
  absl::Status TransferState(Strategy& strategy, torch::optim::Optimizer& optimizer);
  int rank() const { return state_.config->rank; }
  Communicator& comm() const { return **state_.comm; }
  GradScaler* scaler() const { return state_.scaler->get(); }

  FabricState state_;
  std::string gloo_interface_;
  ControlFifo control_;
  absl::Duration launch_timeout_ = absl::Minutes(5);
  int recovery_n_ = 0;  // the group's current re-formation
  Donor donor_;         // ElectDonor's result
  std::optional<int64_t> joined_at_step_;
  bool skip_next_step_ = false;  // this rank took a state one step ahead of it
  RngStates step_rng_;           // the generators' states when this step's forward began
};

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_RECOVERY_H_
