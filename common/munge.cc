#include "common/munge.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/subprocess.h"

namespace fabric {
namespace {

constexpr absl::Duration kToolTimeout = absl::Seconds(10);

std::vector<std::string> Tool(const char* name, const std::string& socket) {
  std::vector<std::string> argv = {name};
  if (!socket.empty()) argv.push_back(absl::StrCat("--socket=", socket));
  return argv;
}

std::string FirstLine(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  return std::string(text.substr(0, text.find('\n')));
}

// "root (0)" -> 0.
bool ParseId(absl::string_view value, unsigned* id) {
  const size_t open = value.rfind('(');
  const size_t close = value.rfind(')');
  if (open == absl::string_view::npos || close == absl::string_view::npos || close < open) {
    return false;
  }
  return absl::SimpleAtoi(value.substr(open + 1, close - open - 1), id);
}

}  // namespace

absl::StatusOr<std::string> MungeEncode(const std::string& socket, const std::string& payload,
                                        int ttl_seconds) {
  std::vector<std::string> argv = Tool("munge", socket);
  argv.push_back(absl::StrCat("--ttl=", ttl_seconds));
  absl::StatusOr<CommandResult> r = RunCommand(argv, payload, kToolTimeout);
  if (!r.ok()) return absl::UnavailableError(absl::StrCat("munge: ", r.status().message()));
  std::string cred(absl::StripAsciiWhitespace(r->out));
  if (r->exit_code != 0 || !absl::StartsWith(cred, "MUNGE:")) {
    return absl::UnavailableError(
        absl::StrCat("munge could not make a credential: ", FirstLine(r->err)));
  }
  return cred;
}

absl::StatusOr<MungeIdentity> MungeDecode(const std::string& socket,
                                          const std::string& credential) {
  absl::StatusOr<CommandResult> r = RunCommand(Tool("unmunge", socket), credential, kToolTimeout);
  if (!r.ok()) return absl::UnavailableError(absl::StrCat("unmunge: ", r.status().message()));
  if (!absl::StrContains(r->out, "STATUS:")) {
    // No metadata at all: unmunge could not talk to munged or did not read a credential
    // ("Failed to match armor prefix").
    const std::string why = FirstLine(r->err);
    if (absl::StrContains(why, "armor") || absl::StrContains(why, "Invalid credential")) {
      return absl::UnauthenticatedError(absl::StrCat("not a munge credential (", why, ")"));
    }
    return absl::UnavailableError(absl::StrCat("unmunge failed: ", why));
  }
  return ParseUnmungeOutput(r->out);
}

absl::StatusOr<MungeIdentity> ParseUnmungeOutput(absl::string_view output) {
  const size_t blank = output.find("\n\n");
  absl::string_view meta = output.substr(0, blank);
  MungeIdentity id;
  if (blank != absl::string_view::npos) id.payload = std::string(output.substr(blank + 2));
  bool have_status = false, have_uid = false, have_gid = false;
  for (absl::string_view line : absl::StrSplit(meta, '\n', absl::SkipWhitespace())) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, colon));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (key == "STATUS") {
      have_status = true;
      if (!absl::StartsWith(value, "Success")) {
        return absl::UnauthenticatedError(absl::StrCat("munge credential refused: ", value));
      }
    } else if (key == "UID") {
      unsigned v = 0;
      have_uid = ParseId(value, &v);
      id.uid = v;
    } else if (key == "GID") {
      unsigned v = 0;
      have_gid = ParseId(value, &v);
      id.gid = v;
    }
  }
  if (!have_status || !have_uid || !have_gid) {
    return absl::InvalidArgumentError("unmunge's output has no STATUS, UID or GID line");
  }
  return id;
}

std::string MungeSocketFromSlurmConf(absl::string_view conf_text) {
  std::string socket;
  for (absl::string_view line : absl::StrSplit(conf_text, '\n')) {
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (!absl::StartsWithIgnoreCase(line, "AuthInfo")) continue;
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(line.substr(0, eq)), "AuthInfo")) {
      continue;
    }
    for (absl::string_view item : absl::StrSplit(line.substr(eq + 1), ',')) {
      item = absl::StripAsciiWhitespace(item);
      if (absl::ConsumePrefix(&item, "socket=")) socket = std::string(item);
    }
  }
  return socket;
}

std::string MungeSocketFor(const std::map<std::string, std::string>& env) {
  if (auto it = env.find("FABRIC_MUNGE_SOCKET"); it != env.end() && !it->second.empty()) {
    return it->second;
  }
  std::string conf = "/etc/slurm/slurm.conf";
  if (auto it = env.find("SLURM_CONF"); it != env.end() && !it->second.empty()) conf = it->second;
  return MungeSocketFromSlurmConf(ReadFile(conf).value_or(""));
}

}  // namespace fabric
