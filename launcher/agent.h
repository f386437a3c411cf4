// Agent: runs one job on this node in one loop (agent_loop.cc), whatever the node
// count. Attempts come from a Coordinator: the rendezvous for a multi-node job, a
// LocalCoordinator (plans, restart budget) for one node. The agent starts each attempt's
// gang of local workers, supervises it on one thread with an epoll loop over a signalfd
// (SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2), the workers' output
// pipes, a timerfd (grace deadline, hang watch), torch's file-timer FIFO and the
// coordinator's event fd; reports each outcome to the coordinator and prints the failure
// report. Clock and process launcher are injectable (AgentOptions).
//
// REQUIRES: BlockAgentSignals() (agent_signals.h) was called before any thread started
// (main()'s first statement), so that the signals reach the signalfd only.
// Thread safety: single-threaded; one Agent per process.
#ifndef FABRIC_LAUNCHER_AGENT_H_
#define FABRIC_LAUNCHER_AGENT_H_

#include <signal.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/http_server.h"
#include "common/metrics.h"
#include "common/placement.h"
#include "common/unique_fd.h"
#include "common/worker_env.h"
#include "launcher/agent_signals.h"
#include "launcher/attempt.h"
#include "launcher/attempt_plan.h"
#include "launcher/cgroup_oom.h"
#include "launcher/coordinator.h"
#include "launcher/event_log.h"
#include "launcher/failure_report.h"
#include "launcher/gang.h"
#include "launcher/gpu_processes.h"
#include "launcher/hang_watch.h"
#include "launcher/job_status.h"
#include "launcher/local_coordinator.h"
#include "launcher/numa_binding.h"
#include "launcher/options.h"
#include "launcher/posix_process_launcher.h"
#include "launcher/requeue_trigger.h"
#include "launcher/worker_output.h"
#include "launcher/worker_specs.h"
#include "launcher/zygote_process_launcher.h"

namespace fabric::launcher {

struct AgentOptions {
  LaunchOptions launch;
  EnvMap inherited_env;     // the agent's environment, given to every worker
  sigset_t worker_sigmask;  // the mask workers start with (main()'s original)
  // Signals fabric-run was started with ignored: the agent neither forwards them nor
  // stops for them, and workers keep them ignored (see IgnoredSignals()).
  sigset_t ignored_at_start;
  int console_stdout = 1;
  int console_stderr = 2;
  // After every worker exited, how long to wait for the output pipes to reach EOF
  // (a grandchild that escaped its group may hold them).
  absl::Duration drain_timeout = absl::Seconds(2);
  // --requeue-on-signal (launch.requeue_signal): once the gang has ended after that
  // signal, Run() calls this instead of restarting and returns 0 (1 when it fails or
  // is unset). Set by ApplySlurm (launcher/slurm_launch.h): scontrol requeue.
  std::function<absl::Status()> requeue;
  // Where attempts come from: the rendezvous for a multi-node job (rdzv_coordinator.h).
  // Not owned, must outlive the agent. Null: a single-node job; the agent makes its own
  // LocalCoordinator (no rendezvous at all).
  Coordinator* coordinator = nullptr;
  // Seams for tests; not owned, must outlive the agent. Null: the real clock, and a
  // PosixProcessLauncher with its orphan sentinel and subreaper.
  Clock* clock = nullptr;
  ProcessLauncher* process_launcher = nullptr;
  // Which processes hold GPU memory (gpu_processes.h); not owned. Null: NVML, loaded at
  // the first failed attempt when libnvidia-ml.so.1 is present (else the wait is skipped).
  GpuProcessQuery* gpu_query = nullptr;
  // After a failed attempt, how long the agent waits for its workers' GPU memory to be
  // freed before it starts the next attempt anyway (WaitGpusFree).
  absl::Duration gpu_free_timeout = absl::Seconds(10);
};

class Agent {
 public:
  // Creates the signalfd, timerfd and epoll set and the posix launcher (orphan
  // sentinel, subreaper). Returns FailedPrecondition for options this agent cannot
  // run (more than one node without a coordinator), Internal for OS errors.
  static absl::StatusOr<std::unique_ptr<Agent>> Create(AgentOptions options);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs attempts until success, an interrupt, or the restart budget is spent.
  // Returns fabric-run's exit status (0, the root cause's code or 128 + signal).
  int Run();

  const std::string& run_id() const { return run_id_; }

 private:
  // What the agent's one wait (Poll) does with each ready source. `signal` runs for
  // each signal read from the signalfd, and returning true stops reading more this
  // time; `pipe` gets a worker pipe's epoll tag (its index in AttemptIo::read_fds).
  // Unset `timer` or `pipe`: the source is drained and dropped. The hang watch's FIFO
  // is always served by the hang watch.
  struct LoopHandlers {
    std::function<bool(int sig)> signal;
    std::function<void()> timer;
    std::function<void()> coordinator;
    std::function<void(uint64_t tag)> pipe;
  };

  explicit Agent(AgentOptions options)
      : options_(std::move(options)),
        requeue_(options_.launch.requeue_signal, options_.launch.grace_period) {}
  absl::Status Init();
  // Adds `fd` to the epoll set under `tag` (EPOLLIN).
  absl::Status Watch(int fd, uint64_t tag);
  WorkerOutputOptions OutputOptions(std::string prefix, bool to_console);
  // A WorkerOutput for `wo` and its two pipes, appended to `io`.
  absl::Status AddOutput(const WorkerOutputOptions& wo, AttemptIo& io);
  // --recovery in-place: the gang's policy for `plan` (budget left, replacement
  // environment, a spare's activation through `spare_fifos`, which must outlive it).
  InPlacePolicy InPlace(const NodePlacement& plan, const std::vector<UniqueFd>& spare_fifos);
  // Waits for the next coordinator event, handling signals meanwhile. False when a
  // stop signal (INT, TERM, HUP) arrived instead; *sig is then that signal.
  bool WaitCoordinator(CoordinatorEvent* event, int* sig);
  // The loop's handlers while no worker runs (WaitCoordinator, WaitGpusFree): stray
  // children are reaped, a stop signal is stored in *stop (and ends this Poll), and
  // coordinator events are recorded and queued in pending_.
  LoopHandlers BetweenAttempts(int* stop);
  // Supervise(): coordinator events while workers run; a round change or the run's
  // end stops the gang.
  void OnCoordinatorEvents(Gang& gang);
  // Supervise(): the first local failure goes to the coordinator at once.
  // --recovery in-place with several nodes: a membership change keeps the workers and
  // its plan, when the job only shrinks around rank 0, goes to them through their
  // control FIFOs. True when `event` was consumed.
  bool MaybeShrinkInPlace(Gang& gang, const CoordinatorEvent& event);
  // A worker failed while the agent awaits the plan of a shrink (its peers or its store
  // are gone): not replaced in place nor reported; the gang stops and the new round's
  // plan, once it comes, is run afresh. Called before the gang sees the exit.
  void AbandonShrink(Gang& gang, pid_t pid, ExitStatus status);
  // After a shrink was told: once every running local worker took it (its heartbeat
  // file's second word), says so; when one has not within --recovery-timeout (e.g. it is
  // blocked in a collective with a partitioned node, which fails only at the
  // collective's timeout), reports that rank's failure to the rendezvous and stops this
  // node's workers, so that the job restarts as a gang. Called on the agent's timer.
  void CheckShrinkTaken(Gang& gang);
  void MaybeReportEarly(const Gang& gang, pid_t pid, ExitStatus status,
                        const std::vector<std::unique_ptr<WorkerOutput>>& outputs);
  int Terminal(const CoordinatorEvent& event);
  // After an attempt: reports its outcome to the coordinator (success, the root cause,
  // a spawn error) and returns the exit status when the agent must end now (a requeue,
  // a stop signal); nullopt: wait for the coordinator's decision.
  std::optional<int> Conclude(const NodePlacement& plan, const AttemptResult& result,
                              std::optional<int64_t> oom_before);
  // After an attempt: remembers its workers' pids when it did not succeed (the next
  // attempt waits for their GPU memory).
  void NoteDeadWorkers(const GangOutcome& outcome);
  // Before an attempt (agent_gpu_wait.cc): waits, serving signals and coordinator events,
  // until no pid NoteDeadWorkers kept holds GPU memory, or gpu_free_timeout passed (a
  // line names the pid and the GPU when it starts waiting, and when it gives up); then
  // forgets them. False when a stop signal arrived meanwhile; *sig is then that signal.
  bool WaitGpusFree(int* sig);
  // Leaves the job after stop signal `s` (`when` says at which point); 128 + s.
  int Interrupted(int s, const char* when);
  // --requeue-on-signal: leaves the job and runs the requeue action; 0 when it worked.
  int Requeue();
  // One attempt of `plan`: outputs, pipes and FIFOs, spawn, Supervise, the result.
  // Errors are set-up errors (log directory, pipes, FIFOs); a worker's is in the outcome.
  absl::StatusOr<AttemptResult> RunAttempt(const NodePlacement& plan);
  // RunAttempt's parts, over PlanWorkers' specs (launcher/worker_specs.h): the I/O one
  // process spec asks for (its output and pipes, heartbeat file, FIFO), giving its spawn
  // spec on the agent's descriptors; the workers'; the spares' (--spares).
  absl::StatusOr<SpawnSpec> Prepare(const ProcessSpec& p, AttemptIo& io);
  absl::StatusOr<std::vector<GangWorker>> PrepareWorkers(const AttemptSpecs& specs, AttemptIo& io,
                                                         AttemptResult& result);
  absl::StatusOr<std::vector<SpawnSpec>> PrepareSpares(const AttemptSpecs& specs, AttemptIo& io);
  // Runs the gang to its end over `io`'s pipes; io.write_fds (held for in-place
  // replacements) are closed once every worker is gone.
  void Supervise(Gang& gang, AttemptIo& io);
  void ArmTimer(std::optional<absl::Time> when);
  // The agent's one epoll_wait, for its whole life (between and during attempts): arms
  // the timerfd at `deadline` (none: disarmed), waits for any source of the epoll set
  // (the table of tags below) and dispatches each ready one to `h`. Internal on an
  // epoll error (EINTR is OK: nothing was dispatched).
  absl::Status Poll(std::optional<absl::Time> deadline, const LoopHandlers& h);
  // Supervise()'s handlers: reaping (exits, in-place replacements, spares) and the
  // other signals (forwarded, a stop, a requeue, or ignored as at start).
  void OnSigchld(Gang& gang, const AttemptIo& io);
  void OnSignalDuringAttempt(Gang& gang, int sig);
  // While the gang stops: a line on attempt_.stop_wait's schedule naming the workers not
  // gone yet and the grace period left (waiting is never silent).
  void SayStillStopping(const Gang& gang);
  // The earliest of the gang's, the requeue's, the hang watch's, the drain's and the
  // shrink acknowledgement's deadlines.
  std::optional<absl::Time> NextDeadline(const Gang& gang,
                                         std::optional<absl::Time> drain_deadline);
  void Report(const NodePlacement& plan, const AttemptResult& result, bool restarting,
              std::optional<int64_t> oom_before);
  void Say(const std::string& text);  // one write(2) to the console's stderr
  // The event log (agent_events.cc, launcher/event_log.h): --events and --log-dir's
  // events.jsonl, opened by Init; one Record* per thing that happened.
  absl::Status OpenEventLog();
  void RecordPlan(const NodePlacement& plan, bool restart);
  void RecordCoordinatorEvent(const CoordinatorEvent& x);
  void RecordAttemptStart(const NodePlacement& plan, const Gang& gang);
  void RecordWorkerExit(const Gang& gang, pid_t pid, const ExitStatus& status);
  void RecordReplacement(const Replacement& x);
  void RecordHang(int global_rank, pid_t pid, const std::string& reason);
  void RecordShrink(const NodePlacement& next);
  void RecordAttemptEnd(const NodePlacement& plan, const GangOutcome& out);
  void RecordFailure(const FailureReportInput& in, const std::string& report);
  int RecordRunEnd(int exit_code);  // returns exit_code
  // What the job looks like now (agent_status.cc): `fabric-run status`, /metrics' gauges.
  // The endpoint: the status socket <scratch>/status.sock (GET /status: JobStatus JSON,
  // GET /metrics) and, with --metrics-port, TCP for Prometheus (GET /metrics only); opened
  // by Init, served by Poll.
  absl::Status OpenEndpoint();
  HttpResponse Serve(const HttpRequest& request);
  JobStatus Snapshot();  // samples the heartbeat files first
  // Several nodes: this node's Snapshot to the rendezvous (the other nodes' `status`), every
  // kPublishInterval while an attempt runs (from the timer) and when `force`d (its end).
  void PublishStatus(bool force);
  static constexpr absl::Duration kPublishInterval = absl::Seconds(2);
  // Run's rounds (Run records the run's end around it).
  int RunRounds();
  // The epoll set's tags: worker pipes are 0..2n-1 (stdout, stderr of each local rank).
  static constexpr uint64_t kSignalTag = ~uint64_t{0};
  static constexpr uint64_t kTimerTag = ~uint64_t{0} - 1;
  static constexpr uint64_t kCoordinatorTag = ~uint64_t{0} - 2;
  static constexpr uint64_t kTimerFifoTag = ~uint64_t{0} - 3;  // torch's file timer (hang_watch.h)
  static constexpr uint64_t kEndpointTag = ~uint64_t{0} - 4;   // the HttpServer's epoll set
  // Stderr lines a failure report quotes (the agent keeps more, for a hung rank's stack).
  static constexpr size_t kReportTailLines = 10;

  AgentOptions options_;
  RequeueTrigger requeue_;
  Clock* clock_ = Clock::RealClock();
  std::unique_ptr<PosixProcessLauncher> owned_launcher_;  // unless one was injected
  // --preload: forks the Python workers, over owned_launcher_ (destroyed first).
  std::unique_ptr<ZygoteProcessLauncher> zygote_;
  ProcessLauncher* launcher_ = nullptr;
  std::unique_ptr<LocalCoordinator> local_coordinator_;  // a single-node job's
  Coordinator* coordinator_ = nullptr;                   // options_.coordinator or that
  std::string run_id_;
  // --numa-binding: each local rank's CPUs and memory node (empty: not bound), planned by
  // Init from this machine's sysfs; applied to every spawn of that rank.
  std::vector<CpuBinding> numa_bindings_;
  // WaitGpusFree's: the failed attempt's worker pids, and the query (loaded once).
  std::vector<pid_t> dead_pids_;
  bool gpu_query_tried_ = false;
  std::unique_ptr<GpuProcessQuery> owned_gpu_query_;
  GpuProcessQuery* gpu_query_ = nullptr;
  std::string scratch_dir_;  // for error files when there is no log dir
  std::vector<std::string> scratch_files_;
  UniqueFd stdin_fd_;  // /dev/null for the workers when our stdin is a terminal
  UniqueFd signal_fd_;
  UniqueFd timer_fd_;
  UniqueFd epoll_fd_;
  AttemptState attempt_;
  bool log_warning_said_ = false;  // one "cannot write the log file" warning per agent
  int in_place_spent_ = 0;         // workers replaced in place, all attempts (--recovery in-place)
  // A plan taken during an attempt but not usable in place: the next round to run.
  std::optional<CoordinatorEvent> next_plan_;
  // A kFatal's message was said when the workers were stopped for it (said once).
  bool fatal_said_ = false;
  std::deque<CoordinatorEvent> pending_;   // taken from the coordinator, not yet acted on
  std::unique_ptr<HangWatch> hang_watch_;  // file timers and heartbeats (hang_watch.h)
  std::unique_ptr<EventLog> events_;       // never null after Init (no files: records nothing)
  // Observability (agent_status.cc, agent_metrics.h): counters bumped by the Record*
  // functions, gauges set from Snapshot() at each scrape.
  MetricRegistry metrics_;
  std::unique_ptr<HttpServer> endpoint_;    // null: no socket could be made (a warning said so)
  const Gang* gang_ = nullptr;              // the running attempt's, while Supervise runs
  std::string last_failure_;                // the last root cause's one line
  std::optional<absl::Time> join_started_;  // the last RequestPlan (the join histogram)
  std::optional<absl::Time> failed_at_;     // the last failed attempt's end (restart time)
  absl::Time next_publish_ = absl::InfinitePast();  // PublishStatus's next
};

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_AGENT_H_
