// Agent (agent.h): set-up (Create/Init: scratch directory, process launcher, signalfd,
// timerfd, epoll, hang watch, the coordinator), one attempt (RunAttempt: log files,
// environment, spawn), its supervision (Supervise over epoll) and the failure report.
// The loop over attempts is agent_loop.cc; pure decisions live in gang, attempt_plan,
// failure_report and local_coordinator.
#include "launcher/agent.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "common/posix_error.h"
#include "common/run_id.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "common/worker_control.h"
#include "launcher/failure_report.h"
#include "launcher/stack_summary.h"

namespace fabric::launcher {
namespace {

std::string ReadSmallFile(const std::string& path) { return ReadFile(path).value_or(""); }

}  // namespace

absl::StatusOr<std::unique_ptr<Agent>> Agent::Create(AgentOptions options) {
  if (options.launch.max_nodes > 1 && options.coordinator == nullptr) {
    return absl::FailedPreconditionError(
        "--num-nodes > 1 needs the multi-node rendezvous (MultiNodeMain); "
        "run one node (--num-nodes 1)");
  }
  if (options.launch.exec_argv.empty()) {
    return absl::FailedPreconditionError("no program to run");
  }
  std::unique_ptr<Agent> agent(new Agent(std::move(options)));
  FABRIC_RETURN_IF_ERROR(agent->Init());
  return agent;
}

absl::Status Agent::Init() {
  signal(SIGPIPE, SIG_IGN);  // a closed console must not kill the agent (workers reset it)
  if (!options_.launch.numa_binding.empty()) {  // first: on error nothing is started
    absl::StatusOr<NumaMode> mode = ParseNumaMode(options_.launch.numa_binding);
    if (!mode.ok()) return absl::FailedPreconditionError(mode.status().message());
    FABRIC_ASSIGN_OR_RETURN(numa_bindings_,
                            ResolveNumaBinding(*mode, options_.launch.devices,
                                               options_.launch.device_ids, options_.inherited_env));
  }
  run_id_ =
      options_.launch.run_id.empty() ? LocalRunId(getpid(), absl::Now()) : options_.launch.run_id;
  {  // always: the hang watch's FIFO and heartbeat files live here (and error files
     // when there is no --log-dir)
    auto tmp = options_.inherited_env.find("TMPDIR");
    std::string templ = absl::StrCat(
        tmp != options_.inherited_env.end() && !tmp->second.empty() ? tmp->second : "/tmp",
        "/fabric-run-XXXXXX");
    if (mkdtemp(templ.data()) == nullptr) return ErrnoError(absl::StrCat("mkdtemp ", templ));
    scratch_dir_ = templ;
  }
  if (options_.process_launcher != nullptr) {
    launcher_ = options_.process_launcher;
  } else {
    // The sentinel is forked first, before this agent holds any other descriptor.
    PosixProcessLauncherOptions lo;
    lo.remove_on_agent_death = scratch_dir_;
    lo.child_sigmask = options_.worker_sigmask;
    lo.keep_ignored = options_.ignored_at_start;
    FABRIC_ASSIGN_OR_RETURN(owned_launcher_, PosixProcessLauncher::Create(lo));
    launcher_ = owned_launcher_.get();
    if (!options_.launch.preload.empty()) {
      ZygoteOptions zo;
      zo.python = options_.launch.exec_argv[0];
      zo.modules = options_.launch.preload;
      zo.script_dir = scratch_dir_;
      zo.console_fd = options_.console_stderr;
      zo.say = [this](const std::string& s) { Say(s); };
      zygote_ = std::make_unique<ZygoteProcessLauncher>(launcher_, std::move(zo));
      launcher_ = zygote_.get();
    }
  }
  if (options_.clock != nullptr) clock_ = options_.clock;
  coordinator_ = options_.coordinator;
  if (coordinator_ == nullptr) {
    FABRIC_ASSIGN_OR_RETURN(local_coordinator_, LocalCoordinator::Create(options_.launch, run_id_));
    coordinator_ = local_coordinator_.get();
  }
  // Workers lead their own (background) process groups: one reading the terminal
  // would be stopped by SIGTTIN and hang the job. They read /dev/null instead.
  if (isatty(0)) {
    stdin_fd_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!stdin_fd_) return ErrnoError("open /dev/null");
  }
  sigset_t set = AgentSignals();
  signal_fd_.reset(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_fd_) return ErrnoError("signalfd");
  timer_fd_.reset(timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!timer_fd_) return ErrnoError("timerfd_create");
  epoll_fd_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd_) return ErrnoError("epoll_create1");
  FABRIC_RETURN_IF_ERROR(Watch(signal_fd_.get(), kSignalTag));
  FABRIC_RETURN_IF_ERROR(Watch(timer_fd_.get(), kTimerTag));
  FABRIC_ASSIGN_OR_RETURN(
      hang_watch_, HangWatch::Create(scratch_dir_, options_.launch.hang_timeout, clock_, launcher_,
                                     [this](const std::string& s) { Say(s); }));
  hang_watch_->set_on_hang(
      [this](int rank, pid_t pid, const std::string& why) { RecordHang(rank, pid, why); });
  FABRIC_RETURN_IF_ERROR(OpenEventLog());
  FABRIC_RETURN_IF_ERROR(Watch(hang_watch_->fifo_fd(), kTimerFifoTag));
  FABRIC_RETURN_IF_ERROR(OpenEndpoint());
  return Watch(coordinator_->event_fd(), kCoordinatorTag);
}

absl::Status Agent::Watch(int fd, uint64_t tag) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = tag;
  if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return ErrnoError("epoll_ctl");
  return absl::OkStatus();
}

Agent::~Agent() {
  zygote_.reset();      // its script lives in the scratch directory
  endpoint_.reset();    // its socket file first
  hang_watch_.reset();  // its files first: the directory is removed below
  for (const std::string& f : scratch_files_) unlink(f.c_str());
  if (!scratch_dir_.empty()) rmdir(scratch_dir_.c_str());
}

void Agent::Say(const std::string& text) {
  absl::string_view data = text;
  while (!data.empty()) {
    ssize_t n = write(options_.console_stderr, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void Agent::Report(const NodePlacement& plan, const AttemptResult& result, bool restarting,
                   std::optional<int64_t> oom_before) {
  const GangOutcome& out = result.outcome;
  const WorkerState& root = out.workers[out.root_index];
  FailureReportInput in;
  in.run_id = plan.run_id;
  in.restart_count = plan.restart_count;
  in.max_restarts = plan.max_restarts;
  in.restarting = restarting;
  in.global_rank = root.global_rank;
  in.local_rank = root.local_rank;
  in.node_rank = plan.node_rank;
  in.pid = root.pid;
  in.status = out.root_status;
  in.oom_kills_before = oom_before;
  in.oom_kills_after = ReadCgroupOomKills();
  in.error_file_message = ParseErrorFileMessage(ReadSmallFile(result.error_files[root.local_rank]));
  const std::vector<std::string>& tail = result.stderr_tails[root.local_rank];
  in.stderr_tail.assign(
      tail.size() > kReportTailLines ? tail.end() - kReportTailLines : tail.begin(), tail.end());
  if (auto it = result.hang_reasons.find(root.local_rank); it != result.hang_reasons.end()) {
    in.hang_reason = it->second;
    in.hang_stack = SummarizeStack(LastStackDump(tail));
  }
  in.stderr_log_path = result.stderr_logs[root.local_rank];
  for (const WorkerState& w : out.workers) {
    if (w.local_rank == root.local_rank || !w.status.has_value()) continue;
    in.others.push_back(OtherRankEnd{w.global_rank, *w.status, w.last_signal_sent});
  }
  const std::string report = FormatFailureReport(in);
  RecordFailure(in, report);
  Say(report);
}

WorkerOutputOptions Agent::OutputOptions(std::string prefix, bool to_console) {
  WorkerOutputOptions wo;
  wo.prefix = std::move(prefix);
  wo.to_console = to_console;
  wo.console_stdout = options_.console_stdout;
  wo.console_stderr = options_.console_stderr;
  // Enough for a hung rank's stack dump (launcher/stack_summary.h); the report quotes
  // only the last kReportTailLines.
  wo.tail_lines = 80;
  wo.log_warning_said = &log_warning_said_;
  return wo;
}

absl::Status Agent::AddOutput(const WorkerOutputOptions& wo, AttemptIo& io) {
  FABRIC_ASSIGN_OR_RETURN(std::unique_ptr<WorkerOutput> output, WorkerOutput::Create(wo));
  io.outputs.push_back(std::move(output));
  for (int s = 0; s < 2; ++s) {  // stdout, stderr
    FABRIC_ASSIGN_OR_RETURN(Pipe p, MakePipe(/*nonblocking_read=*/true));
    io.read_fds.push_back(std::move(p.read));
    io.write_fds.push_back(std::move(p.write));
  }
  return absl::OkStatus();
}

absl::StatusOr<AttemptResult> Agent::RunAttempt(const NodePlacement& plan) {
  const LaunchOptions& lo = options_.launch;
  std::string dir = scratch_dir_;
  if (!lo.log_dir.empty()) {
    dir = absl::StrCat(lo.log_dir, "/", run_id_, "/attempt_", plan.restart_count);
    FABRIC_RETURN_IF_ERROR(MakeDirs(dir, "log directory"));
  }
  AttemptResult result;
  AttemptIo io;
  const AttemptSpecs specs =
      PlanWorkers(lo, plan, AttemptDirs{scratch_dir_, dir}, options_.inherited_env);
  FABRIC_ASSIGN_OR_RETURN(std::vector<GangWorker> workers, PrepareWorkers(specs, io, result));
  FABRIC_ASSIGN_OR_RETURN(std::vector<SpawnSpec> spare_specs, PrepareSpares(specs, io));
  Gang gang(launcher_, clock_, lo.grace_period);
  if (lo.recovery_in_place) gang.EnableInPlace(InPlace(plan, io.spare_fifos));
  (void)gang.Start(std::move(workers), std::move(spare_specs));  // errors: in the outcome
  // In-place: a replacement writes to the same pipes, so their write ends stay open
  // until every worker is gone (Supervise closes them then).
  if (!lo.recovery_in_place) io.write_fds.clear();
  {
    std::vector<pid_t> pids;
    std::vector<int> ranks;
    for (const WorkerState& w : gang.workers()) {
      pids.push_back(w.pid);
      ranks.push_back(w.global_rank);
    }
    hang_watch_->StartAttempt(std::move(pids), std::move(ranks));
  }
  RecordAttemptStart(plan, gang);
  for (size_t i = 0; i < io.read_fds.size(); ++i) {
    if (!Watch(io.read_fds[i].get(), i).ok()) LogWarning("epoll_ctl: ", std::strerror(errno));
  }
  gang_ = &gang;
  PublishStatus(/*force=*/true);
  Supervise(gang, io);
  gang_ = nullptr;
  PublishStatus(/*force=*/true);  // no workers here now
  attempt_.control_fifos.clear();
  in_place_spent_ += gang.replacements();
  result.outcome = gang.outcome();
  NoteDeadWorkers(result.outcome);
  RecordAttemptEnd(attempt_.plan, result.outcome);
  for (const WorkerState& w : result.outcome.workers) {
    if (const std::string* why = hang_watch_->HangReason(w.local_rank)) {
      result.hang_reasons[w.local_rank] = *why;
    }
  }
  hang_watch_->EndAttempt();
  for (const auto& o : io.outputs) result.stderr_tails.push_back(o->StderrTail());
  return result;
}

absl::StatusOr<SpawnSpec> Agent::Prepare(const ProcessSpec& p, AttemptIo& io) {
  scratch_files_.insert(scratch_files_.end(), p.scratch_files.begin(), p.scratch_files.end());
  if (!p.error_file.empty()) unlink(p.error_file.c_str());
  WorkerOutputOptions wo = OutputOptions(p.output_prefix, p.to_console);
  wo.stdout_log = p.stdout_log;
  wo.stderr_log = p.stderr_log;
  FABRIC_RETURN_IF_ERROR(AddOutput(wo, io));
  if (!p.heartbeat_file.empty()) {
    if (absl::Status st = hang_watch_->AddBeatFile(p.local_rank, p.heartbeat_file); !st.ok()) {
      LogWarning("heartbeat file for ", p.spawn.name, ": ", st.message());
    }
  }
  if (!p.fifo.empty()) {
    FABRIC_ASSIGN_OR_RETURN(UniqueFd fd, MakeFifo(p.fifo, p.spare ? "spare FIFO" : "control FIFO"));
    (p.spare ? io.spare_fifos : attempt_.control_fifos).push_back(std::move(fd));
  }
  SpawnSpec spec = p.spawn;
  if (!p.spare && p.local_rank >= 0 && static_cast<size_t>(p.local_rank) < numa_bindings_.size()) {
    spec.cpus = numa_bindings_[p.local_rank].cpus;  // a spare takes any rank: unbound
    spec.preferred_node = numa_bindings_[p.local_rank].numa_node;
  }
  spec.stdin_fd = stdin_fd_.get();
  spec.stdout_fd = io.write_fds[io.write_fds.size() - 2].get();
  spec.stderr_fd = io.write_fds.back().get();
  return spec;
}

absl::StatusOr<std::vector<GangWorker>> Agent::PrepareWorkers(const AttemptSpecs& specs,
                                                              AttemptIo& io,
                                                              AttemptResult& result) {
  attempt_.control_fifos.clear();
  std::vector<GangWorker> workers;
  for (const ProcessSpec& p : specs.workers) {
    result.stderr_logs.push_back(p.stderr_log);
    result.error_files.push_back(p.error_file);
    GangWorker w;
    w.global_rank = p.global_rank;
    w.local_rank = p.local_rank;
    FABRIC_ASSIGN_OR_RETURN(w.spec, Prepare(p, io));
    workers.push_back(std::move(w));
  }
  return workers;
}

absl::StatusOr<std::vector<SpawnSpec>> Agent::PrepareSpares(const AttemptSpecs& specs,
                                                            AttemptIo& io) {
  std::vector<SpawnSpec> spare_specs;
  for (const ProcessSpec& p : specs.spares) {
    FABRIC_ASSIGN_OR_RETURN(SpawnSpec spec, Prepare(p, io));
    spare_specs.push_back(std::move(spec));
  }
  return spare_specs;
}

InPlacePolicy Agent::InPlace(const NodePlacement& plan, const std::vector<UniqueFd>& spare_fifos) {
  const LaunchOptions& lo = options_.launch;
  InPlacePolicy policy;
  policy.budget = std::max(0, lo.max_restarts - plan.restart_count - in_place_spent_);
  policy.window = lo.recovery_timeout;
  policy.replacement_spec = [](const SpawnSpec& failed) {
    SpawnSpec spec = failed;
    spec.env.push_back(absl::StrCat(kEnvFabricRecoveryReplacement, "=1"));
    return spec;
  };
  policy.activate_spare = [&spare_fifos](int index, const SpawnSpec& spec) -> absl::Status {
    const std::string msg = EncodeSpareAssignment(spec.env);
    const ssize_t n = write(spare_fifos[index].get(), msg.data(), msg.size());
    if (n != static_cast<ssize_t>(msg.size())) {
      return absl::UnavailableError(
          absl::StrCat("write to its FIFO: ", n < 0 ? std::strerror(errno) : "short write"));
    }
    return absl::OkStatus();
  };
  return policy;
}

void Agent::ArmTimer(std::optional<absl::Time> when) {
  itimerspec spec{};
  if (when.has_value()) {
    spec.it_value = absl::ToTimespec(*when);
    if (spec.it_value.tv_sec < 0 || (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec <= 0)) {
      spec.it_value = {0, 1};  // the past (or no time at all): at once; 0 would disarm it
    }
  }
  timerfd_settime(timer_fd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
}

absl::Status Agent::Poll(std::optional<absl::Time> deadline, const LoopHandlers& h) {
  ArmTimer(deadline);
  epoll_event events[16];
  const int n = epoll_wait(epoll_fd_.get(), events, 16, -1);  // the agent's only wait
  if (n < 0) return errno == EINTR ? absl::OkStatus() : ErrnoError("epoll_wait");
  for (int e = 0; e < n; ++e) {
    const uint64_t tag = events[e].data.u64;
    if (tag == kSignalTag) {
      signalfd_siginfo si;
      while (read(signal_fd_.get(), &si, sizeof(si)) == sizeof(si)) {
        if (h.signal(static_cast<int>(si.ssi_signo))) break;
      }
    } else if (tag == kTimerTag) {
      uint64_t expirations;
      (void)!read(timer_fd_.get(), &expirations, sizeof(expirations));
      if (h.timer) h.timer();
    } else if (tag == kTimerFifoTag) {
      hang_watch_->OnFifoReadable();  // between attempts: a late write of the last one's
    } else if (tag == kCoordinatorTag) {
      h.coordinator();
    } else if (tag == kEndpointTag) {
      endpoint_->OnReady();  // status and metrics, at any phase (a hung rank included)
    } else if (h.pipe) {
      h.pipe(tag);
    }
  }
  return absl::OkStatus();
}

void Agent::OnSigchld(Gang& gang, const AttemptIo& io) {
  while (std::optional<Reaped> r = launcher_->ReapAny()) {
    hang_watch_->OnWorkerExit(r->pid);
    AbandonShrink(gang, r->pid, r->status);
    RecordWorkerExit(gang, r->pid, r->status);
    const bool was_stopping = gang.stopping();
    if (gang.OnExit(r->pid, r->status) && !was_stopping && gang.stopping()) {
      MaybeReportEarly(gang, r->pid, r->status, io.outputs);
    }
    for (const Replacement& x : gang.TakeReplacements()) {
      hang_watch_->OnWorkerReplaced(x.local_rank, x.new_pid);
      RecordReplacement(x);
      const std::string who =
          x.spare >= 0 ? absl::StrCat("spare ", x.spare, " (pid ", x.new_pid, ") takes over")
                       : absl::StrCat("started a replacement (pid ", x.new_pid, ")");
      Say(absl::StrCat("fabric-run: rank ", x.global_rank, " (pid ", x.old_pid, ") ",
                       x.status.Describe(), "; recovering in place: ", who,
                       ", the other workers keep running (", gang.replacements(), " of ",
                       options_.launch.max_restarts, " restarts used in place)\n"));
    }
    for (const SpareExit& x : gang.TakeSpareExits()) {
      Say(absl::StrCat("fabric-run: spare ", x.index, " (pid ", x.pid, ") ", x.status.Describe(),
                       " while waiting (spares need a program on the C++ runtime); "
                       "a failed worker is started anew instead\n"));
    }
  }
}

void Agent::OnSignalDuringAttempt(Gang& gang, int sig) {
  if (sigismember(&options_.ignored_at_start, sig) == 1) {
    Say(absl::StrCat("fabric-run: ignoring ", SignalName(sig),
                     " (it was ignored when fabric-run started, e.g. by nohup)\n"));
    return;
  }
  if (ClassifySignal(sig) == SignalAction::kStopGang) {
    attempt_.user_signal = sig;
    Say(absl::StrCat("fabric-run: received ", SignalName(sig),
                     ": forwarding it to every worker; SIGKILL after ",
                     absl::FormatDuration(options_.launch.grace_period), "\n"));
  }
  if (requeue_.OnSignal(sig, clock_->TimeNow())) {
    Say(absl::StrCat("fabric-run: received ", SignalName(sig),
                     ": forwarding it; the job is requeued once the workers exit (stopped after ",
                     absl::FormatDuration(options_.launch.grace_period), ")\n"));
  }
  gang.OnSignal(sig);
}

std::optional<absl::Time> Agent::NextDeadline(const Gang& gang,
                                              std::optional<absl::Time> drain_deadline) {
  std::optional<absl::Time> next = gang.deadline();
  auto earliest = [&next](std::optional<absl::Time> t) {
    if (t && (!next || *t < *next)) next = t;
  };
  earliest(requeue_.deadline());
  earliest(hang_watch_->NextDeadline());
  earliest(drain_deadline);
  if (attempt_.stop_wait && !gang.finished()) earliest(attempt_.stop_wait->next());
  if (local_coordinator_ == nullptr) {
    earliest(std::max(next_publish_, clock_->TimeNow()));  // PublishStatus
  }
  if (attempt_.shrink_told_at) {  // polls for the workers' acknowledgement (CheckShrinkTaken)
    earliest(std::min(*attempt_.shrink_told_at + options_.launch.recovery_timeout,
                      clock_->TimeNow() + absl::Milliseconds(10)));
  }
  return next;
}

void Agent::Supervise(Gang& gang, AttemptIo& io) {
  std::vector<UniqueFd>& pipe_fds = io.read_fds;
  size_t open_pipes = 0;
  for (const UniqueFd& fd : pipe_fds) open_pipes += fd.valid();
  auto close_pipe = [&](size_t i) {
    io.outputs[i / 2]->OnEof(i % 2 == 0 ? Stream::kStdout : Stream::kStderr);
    pipe_fds[i].reset();  // also leaves the epoll set
    --open_pipes;
  };
  std::vector<char> buf(1 << 16);
  LoopHandlers h;
  h.signal = [&](int sig) {
    if (sig == SIGCHLD) {
      OnSigchld(gang, io);
    } else {
      OnSignalDuringAttempt(gang, sig);
    }
    return false;
  };
  h.timer = [&] {
    SayStillStopping(gang);
    PublishStatus(/*force=*/false);
    gang.OnTimer();
    hang_watch_->OnTimer();
    CheckShrinkTaken(gang);
    if (requeue_.StopDue(clock_->TimeNow()) && !gang.stopping()) gang.OnSignal(SIGTERM);
  };
  h.coordinator = [&] { OnCoordinatorEvents(gang); };
  h.pipe = [&](uint64_t tag) {
    if (tag >= pipe_fds.size() || !pipe_fds[tag].valid()) return;
    // Bounded reads per wake-up so that one chatty worker cannot starve the rest.
    for (int round = 0; round < 4; ++round) {
      ssize_t r = read(pipe_fds[tag].get(), buf.data(), buf.size());
      if (r > 0) {
        io.outputs[tag / 2]->OnData(tag % 2 == 0 ? Stream::kStdout : Stream::kStderr,
                                    absl::string_view(buf.data(), static_cast<size_t>(r)));
        continue;
      }
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
      close_pipe(tag);  // EOF or error
      break;
    }
  };
  std::optional<absl::Time> drain_deadline;
  for (;;) {
    if (gang.finished()) {
      io.write_fds.clear();  // no replacement can come any more
      if (open_pipes == 0) break;
      if (!drain_deadline) drain_deadline = clock_->TimeNow() + options_.drain_timeout;
      if (clock_->TimeNow() >= *drain_deadline) {
        for (size_t i = 0; i < pipe_fds.size(); ++i) {
          if (pipe_fds[i].valid()) close_pipe(i);
        }
        break;
      }
    }
    if (gang.stopping() && !gang.finished() && !attempt_.stop_wait) {
      attempt_.stop_wait.emplace(clock_->TimeNow());  // the grace period's lines begin
    }
    if (absl::Status st = Poll(NextDeadline(gang, drain_deadline), h); !st.ok()) {
      LogError(st.message());
      break;
    }
  }
  ArmTimer(std::nullopt);
}

void Agent::SayStillStopping(const Gang& gang) {
  if (!attempt_.stop_wait || gang.finished()) return;
  const absl::Time now = clock_->TimeNow();
  if (!attempt_.stop_wait->Due(now)) return;
  std::string who;
  int left = 0;
  for (const WorkerState& w : gang.workers()) {
    if (w.pid < 0 || w.status.has_value() || w.abandoned) continue;
    if (left++ < 4)
      absl::StrAppend(&who, who.empty() ? "" : ", ", "rank ", w.global_rank, " pid ", w.pid);
  }
  if (left == 0) return;
  if (left > 4) absl::StrAppend(&who, ", ...");
  const absl::Duration waited = absl::Trunc(now - attempt_.stop_wait->start(), absl::Seconds(1));
  const absl::Duration grace = options_.launch.grace_period;
  Say(absl::StrCat(
      "fabric-run: stopping: waiting for ", left, left == 1 ? " worker" : " workers", " to exit (",
      who, "), ", absl::FormatDuration(waited), " since SIGTERM; ",
      waited < grace
          ? absl::StrCat("SIGKILL in ", absl::FormatDuration(grace - waited), " (--grace-period)")
          : "SIGKILL sent",
      "\n"));
}

}  // namespace fabric::launcher
