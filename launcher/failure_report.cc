#include "launcher/failure_report.h"

#include <signal.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace fabric::launcher {
namespace {

std::string OomHint(const FailureReportInput& in) {
  if (in.status.signal != SIGKILL) return "";
  if (in.oom_kills_before.has_value() && in.oom_kills_after.has_value() &&
      *in.oom_kills_after > *in.oom_kills_before) {
    return absl::StrCat(
        "fabric-run:   hint: killed by the kernel's OOM killer: the memory cgroup's "
        "oom_kill count rose from ",
        *in.oom_kills_before, " to ", *in.oom_kills_after,
        " during this attempt; use less memory per worker or fewer workers\n");
  }
  return "fabric-run:   hint: SIGKILL was not sent by fabric-run; the kernel's OOM "
         "killer is the usual cause (check `dmesg` or the job's memory limit)\n";
}

// Parses a JSON string starting at s[0] == '"'. Returns the unescaped text.
std::string ParseJsonString(absl::string_view s) {
  std::string out;
  for (size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') break;
    if (c != '\\' || i + 1 >= s.size()) {
      out.push_back(c);
      continue;
    }
    char e = s[++i];
    switch (e) {
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case 'r': break;
      case 'b':
      case 'f': break;
      case 'u': {
        int code = 0;
        if (i + 4 < s.size() && absl::SimpleHexAtoi(s.substr(i + 1, 4), &code) && code < 128) {
          out.push_back(static_cast<char>(code));
        } else {
          out.push_back('?');
        }
        i += 4;
        break;
      }
      default: out.push_back(e);  // \" \\ \/
    }
  }
  return out;
}

}  // namespace

std::string FormatFailureReport(const FailureReportInput& in) {
  std::string out = absl::StrCat("fabric-run: worker failure in run ", in.run_id, ", attempt ",
                                 in.restart_count + 1, " of at most ", in.max_restarts + 1,
                                 " (TORCHELASTIC_RESTART_COUNT=", in.restart_count, ")\n");
  absl::StrAppend(&out, "fabric-run:   root cause: rank ", in.global_rank, " (node ", in.node_rank,
                  ", local rank ", in.local_rank, ", pid ", in.pid, ") ",
                  in.status.signal != 0 ? "was killed by " : "exited with ", in.status.Describe(),
                  "\n");
  if (!in.hang_reason.empty()) {
    absl::StrAppend(&out, "fabric-run:   rank ", in.global_rank, " was hung: ", in.hang_reason,
                    "; fabric-run stopped it\n");
    absl::StrAppend(&out, "fabric-run:   where: ",
                    in.hang_stack.empty() ? "(it printed no stack)" : in.hang_stack, "\n");
  } else {
    absl::StrAppend(&out, OomHint(in));
  }
  if (!in.error_file_message.empty()) {
    absl::StrAppend(&out, "fabric-run:   error file: ");
    bool first = true;
    for (absl::string_view line : absl::StrSplit(in.error_file_message, '\n')) {
      if (!first) absl::StrAppend(&out, "fabric-run:     ");
      absl::StrAppend(&out, line, "\n");
      first = false;
    }
  }
  if (in.stderr_tail.empty()) {
    absl::StrAppend(&out, "fabric-run:   rank ", in.global_rank, " wrote nothing to stderr\n");
  } else {
    absl::StrAppend(&out, "fabric-run:   last ", in.stderr_tail.size(), " lines of rank ",
                    in.global_rank, "'s stderr:\n");
    for (const std::string& line : in.stderr_tail) {
      absl::StrAppend(&out, "fabric-run:     | ", line, "\n");
    }
  }
  if (!in.others.empty()) {
    absl::StrAppend(&out, "fabric-run:   other ranks:");
    const char* sep = " ";
    for (const OtherRankEnd& o : in.others) {
      absl::StrAppend(&out, sep, "rank ", o.global_rank, " ", o.status.Describe());
      if (o.signal_sent != 0) absl::StrAppend(&out, " after our ", SignalName(o.signal_sent));
      sep = "; ";
    }
    absl::StrAppend(&out, "\n");
  }
  if (!in.stderr_log_path.empty()) {
    absl::StrAppend(&out, "fabric-run:   full log: ", in.stderr_log_path, "\n");
  }
  if (in.restarting) {
    absl::StrAppend(&out, "fabric-run:   restarting the whole gang (restart ", in.restart_count + 1,
                    " of ", in.max_restarts, ")\n");
  } else {
    absl::StrAppend(&out, "fabric-run:   no restarts left; exiting with the root cause's status\n");
  }
  return out;
}

std::string ParseErrorFileMessage(absl::string_view json) {
  for (int depth = 0; depth < 4; ++depth) {
    size_t key = json.find("\"message\"");
    if (key == absl::string_view::npos) return "";
    json.remove_prefix(key + 9);
    json = absl::StripLeadingAsciiWhitespace(json);
    if (!absl::ConsumePrefix(&json, ":")) return "";
    json = absl::StripLeadingAsciiWhitespace(json);
    if (json.empty()) return "";
    if (json[0] == '"') return ParseJsonString(json);
    if (json[0] != '{') return "";
  }
  return "";
}

std::optional<int64_t> ParseOomKillCount(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, "oom_kill ")) continue;
    int64_t n = 0;
    if (absl::SimpleAtoi(line, &n)) return n;
  }
  return std::nullopt;
}

}  // namespace fabric::launcher
