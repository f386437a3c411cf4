#include "launcher/torchrun_flags.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "launcher/numa_binding.h"

namespace fabric::launcher {
namespace {

const Raw* Find(const RawMap& raw, const char* name) {
  auto it = raw.find(name);
  return it == raw.end() ? nullptr : &it->second;
}

// "N" (every local rank) or "LR:N,LR:N" with N in 0..3 (0 none, 1 stdout, 2 stderr,
// 3 both): the local ranks with any stream named. `all` is set for the plain form.
absl::StatusOr<std::set<int>> ParseStdSpec(const Raw& r, bool* all) {
  *all = false;
  std::set<int> ranks;
  int n = 0;
  if (absl::SimpleAtoi(r.value, &n)) {
    if (n < 0 || n > 3) return Bad(r, "is not 0-3 (0 none, 1 stdout, 2 stderr, 3 both)");
    *all = n != 0;
    return ranks;
  }
  for (absl::string_view item : absl::StrSplit(r.value, ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(item, ':');
    int lr = 0, v = 0;
    if (kv.size() != 2 || !absl::SimpleAtoi(kv[0], &lr) || !absl::SimpleAtoi(kv[1], &v) || lr < 0 ||
        v < 0 || v > 3) {
      return Bad(r, "is not N or LOCAL_RANK:N,... with N in 0-3 (e.g. 3, or 0:3,1:2)");
    }
    if (v != 0) ranks.insert(lr);
  }
  return ranks;
}

absl::Status ResolveConsole(const RawMap& raw, LaunchOptions* o) {
  std::optional<std::vector<int>> shown;
  if (const Raw* r = Find(raw, "local-ranks-filter")) {
    std::vector<int> ranks;
    for (absl::string_view t : absl::StrSplit(r->value, ',', absl::SkipEmpty())) {
      int lr = 0;
      if (!absl::SimpleAtoi(t, &lr) || lr < 0) {
        return Bad(*r, "is not a list of local ranks such as 0 or 0,1");
      }
      ranks.push_back(lr);
    }
    shown = ranks;
  }
  // --redirects sends a rank's streams to its log files instead of the console; --tee
  // to both (what fabric-run does anyway with --log-dir). fabric-run keeps a rank's two
  // streams together: a redirected stream hides the rank from the console.
  if (const Raw* r = Find(raw, "redirects")) {
    bool all = false;
    FABRIC_ASSIGN_OR_RETURN(std::set<int> redirected, ParseStdSpec(*r, &all));
    std::set<int> teed;
    bool tee_all = false;
    if (const Raw* t = Find(raw, "tee")) {
      FABRIC_ASSIGN_OR_RETURN(teed, ParseStdSpec(*t, &tee_all));
    }
    if ((all || !redirected.empty()) && !tee_all) {
      if (o->log_dir.empty()) {
        return Bad(*r,
                   "sends output to log files, which need --log-dir DIR (fabric-run "
                   "writes DIR/<run-id>/attempt_<n>/rank_<r>.{stdout,stderr}.log)");
      }
      std::vector<int> visible;
      const int n = o->devices;
      for (int lr = 0; lr < n; ++lr) {
        const bool hidden = (all || redirected.count(lr) > 0) && teed.count(lr) == 0;
        if (!hidden && (!shown || std::count(shown->begin(), shown->end(), lr) > 0)) {
          visible.push_back(lr);
        }
      }
      shown = visible;
    }
  } else if (const Raw* t = Find(raw, "tee")) {
    bool all = false;
    FABRIC_RETURN_IF_ERROR(ParseStdSpec(*t, &all).status());  // the default: validated only
  }
  if (shown) o->console.local_ranks = *shown;
  return absl::OkStatus();
}

// --rdzv-conf k=v,...: torch's c10d rendezvous keys, onto fabric-run's timeouts unless
// its own flags were given.
absl::Status ResolveRdzvConf(const RawMap& raw, LaunchOptions* o) {
  const Raw* r = Find(raw, "rdzv-conf");
  if (r == nullptr) return absl::OkStatus();
  int64_t keep_alive_s = -1, keep_alive_attempts = -1;
  for (absl::string_view item : absl::StrSplit(r->value, ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty()) {
      return Bad(*r, absl::StrCat("has '", item, "', not KEY=VALUE"));
    }
    const std::string key = absl::AsciiStrToLower(kv[0]);
    int64_t secs = 0;
    const bool number = absl::SimpleAtoi(kv[1], &secs) && secs >= 0;
    auto need_number = [&]() -> absl::Status {
      return number ? absl::OkStatus()
                    : Bad(*r, absl::StrCat("has ", key, "=", kv[1], ", not whole seconds"));
    };
    if (key == "join_timeout" || key == "timeout") {
      FABRIC_RETURN_IF_ERROR(need_number());
      if (raw.count("join-timeout") == 0 && secs > 0) o->join_timeout = absl::Seconds(secs);
    } else if (key == "last_call_timeout") {
      FABRIC_RETURN_IF_ERROR(need_number());
      if (raw.count("last-call-timeout") == 0) o->last_call_timeout = absl::Seconds(secs);
    } else if (key == "keep_alive_interval") {
      FABRIC_RETURN_IF_ERROR(need_number());
      keep_alive_s = secs;
    } else if (key == "keep_alive_max_attempt") {
      FABRIC_RETURN_IF_ERROR(need_number());
      keep_alive_attempts = secs;
    } else if (key == "protocol") {
      const std::string p = absl::AsciiStrToLower(kv[1]);
      if (p != "http" && p != "https") {
        return Bad(*r, absl::StrCat("has protocol=", kv[1], "; use http or https"));
      }
      if (p == "https" && !o->rdzv_etcd) {
        return Bad(*r,
                   "has protocol=https, which is etcd's; for fabric-run's own rendezvous "
                   "use --rdzv-tls-ca");
      }
    } else if (key == "cacert" || key == "cert" || key == "key") {
      if (!o->rdzv_etcd) {
        return Bad(*r, absl::StrCat("has ", key,
                                    "=, which is for --rdzv-backend etcd; "
                                    "for fabric-run's own rendezvous use --rdzv-tls-",
                                    key == "cacert" ? "ca" : key));
      }
      const char* flag = key == "cacert" ? "rdzv-tls-ca"
                         : key == "cert" ? "rdzv-tls-cert"
                                         : "rdzv-tls-key";
      std::string* out = key == "cacert" ? &o->rdzv_tls_ca
                         : key == "cert" ? &o->rdzv_tls_cert
                                         : &o->rdzv_tls_key;
      if (raw.count(flag) == 0) *out = kv[1];
    } else if (key == "close_timeout" || key == "read_timeout" || key == "is_host" ||
               key == "use_agent_store" || key == "heartbeat_timeout") {
      // Accepted; no effect: fabric-run's rendezvous has no close phase, its store reads
      // are bounded by --join-timeout, and which agent hosts is decided by --node-rank.
    } else {
      return Bad(*r, absl::StrCat("has an unknown key '", key,
                                  "'; fabric-run reads join_timeout, last_call_timeout, "
                                  "keep_alive_interval, keep_alive_max_attempt and, for "
                                  "etcd, protocol, cacert, cert and key"));
    }
  }
  if (keep_alive_s > 0 && raw.count("keepalive-timeout") == 0) {
    o->keepalive_timeout = absl::Seconds(keep_alive_s * std::max<int64_t>(keep_alive_attempts, 1));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ResolveTorchrunFlags(const RawMap& raw, LaunchOptions* o) {
  if (const Raw* r = Find(raw, "role")) {
    if (!std::all_of(r->value.begin(), r->value.end(), [](char c) {
          return absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '.';
        })) {
      return Bad(*r, "is not a role name; use [A-Za-z0-9._-]");
    }
    o->role = r->value;
  }
  if (const Raw* r = Find(raw, "rdzv-backend")) {
    const std::string v = absl::AsciiStrToLower(r->value);
    if (v != "c10d" && v != "static" && v != "etcd" && v != "etcd-v2" && v != "etcd-v3") {
      return Bad(*r, "is not a rendezvous backend; use c10d, static or etcd");
    }
  }
  FABRIC_RETURN_IF_ERROR(ResolveRdzvConf(raw, o));
  if (const Raw* r = Find(raw, "monitor-interval")) {
    double secs = 0;
    if (!absl::SimpleAtod(r->value, &secs) || secs < 0) {
      return Bad(*r, "is not a non-negative number of seconds");
    }
    // Accepted, no effect: fabric-run sees a worker's exit at once (signalfd), it does
    // not poll.
  }
  if (const Raw* r = Find(raw, "start-method")) {
    if (r->value != "spawn" && r->value != "fork" && r->value != "forkserver") {
      return Bad(*r, "is not spawn, fork or forkserver");
    }
    // Accepted, no effect: every worker is a fresh process (exec), whatever the method.
  }
  if (const Raw* r = Find(raw, "event-log-handler")) {
    if (r->value != "null") {
      return Bad(*r,
                 "names a torch.distributed.elastic event handler, which runs in "
                 "torchrun's Python process; fabric-run has none (use null)");
    }
  }
  for (const char* name : {"module", "no-python", "virtual-local-rank"}) {
    if (const Raw* r = Find(raw, name)) {
      FABRIC_ASSIGN_OR_RETURN(bool on, ParseBool(*r));
      if (std::string(name) == "module") o->python_module = on;
      if (std::string(name) == "no-python") o->no_python = on;
      if (std::string(name) == "virtual-local-rank") o->virtual_local_rank = on;
    }
  }
  if (o->python_module && o->no_python) {
    return absl::InvalidArgumentError(
        "-m/--module runs PROGRAM as a Python module and --no-python runs it without "
        "Python; give one of them");
  }
  if (const Raw* r = Find(raw, "run-path")) {
    FABRIC_ASSIGN_OR_RETURN(bool on, ParseBool(*r));
    if (on) {
      return Bad(*r,
                 "runs the script inside torchrun's own Python interpreter; "
                 "fabric-run is native and starts the script with python: drop "
                 "--run-path");
    }
  }
  for (const char* name : {"duplicate-stdout-filters", "duplicate-stderr-filters"}) {
    if (const Raw* r = Find(raw, name)) {
      return Bad(*r,
                 "is not supported: every line of every rank is in --log-dir's "
                 "per-rank files; filter those (grep) instead");
    }
  }
  if (const Raw* r = Find(raw, "logs-specs")) {
    return Bad(*r,
               "names a Python LogsSpecs entry point, which fabric-run cannot load; "
               "use --log-dir");
  }
  if (const Raw* r = Find(raw, "numa-binding")) {
    if (!ParseNumaMode(r->value).ok()) {
      return Bad(*r, "is not a NUMA binding mode; use node, socket, exclusive or core-complex");
    }
    o->numa_binding = r->value;
  }
  if (const Raw* r = Find(raw, "local-addr")) {
    return Bad(*r,
               "is not supported: fabric-run's agents are told node 0's address by "
               "--master-addr and need no address of their own; drop it");
  }
  if (const Raw* r = Find(raw, "signals-to-handle")) {
    static const std::set<std::string> kHandled = {"SIGTERM", "SIGINT",  "SIGHUP",
                                                   "SIGQUIT", "SIGUSR1", "SIGUSR2"};
    std::vector<std::string> given;
    for (absl::string_view s : absl::StrSplit(r->value, ',', absl::SkipEmpty())) {
      std::string sig = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(s));
      if (!absl::StartsWith(sig, "SIG")) sig = "SIG" + sig;
      if (kHandled.count(sig) == 0) {
        return Bad(*r, absl::StrCat("names ", sig,
                                    ", which fabric-run does not relay; it "
                                    "always handles ",
                                    absl::StrJoin(kHandled, ",")));
      }
      given.push_back(sig);
    }
    o->signals_to_handle = absl::StrJoin(given, ",");
  }
  return ResolveConsole(raw, o);
}

}  // namespace fabric::launcher
