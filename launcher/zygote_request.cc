#include "launcher/zygote_request.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fabric::launcher {

bool LooksLikePython(const std::string& path) {
  const size_t slash = path.rfind('/');
  return absl::StartsWith(slash == std::string::npos ? path : path.substr(slash + 1), "python");
}

std::optional<PythonTarget> ParsePythonArgv(const std::string& python,
                                            const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0] != python) return std::nullopt;
  PythonTarget t;
  size_t i = 1;
  while (i < argv.size() && argv[i] == "-u") {
    t.unbuffered = true;
    ++i;
  }
  if (i >= argv.size()) return std::nullopt;
  if (argv[i] == "-m") {
    if (i + 1 >= argv.size() || argv[i + 1].empty()) return std::nullopt;
    t.module = true;
    t.target = argv[i + 1];
    i += 2;
  } else {
    if (argv[i].empty() || argv[i][0] == '-') return std::nullopt;
    t.target = argv[i];
    ++i;
  }
  t.args.assign(argv.begin() + static_cast<std::ptrdiff_t>(i), argv.end());
  return t;
}

std::string EncodeSpawnRequest(const PythonTarget& target, const SpawnSpec& spec,
                               const std::string& cwd) {
  std::vector<std::string> f = {"spawn",
                                target.module ? "module" : "script",
                                target.target,
                                target.unbuffered ? "1" : "0",
                                cwd,
                                absl::StrJoin(spec.cpus, ","),
                                absl::StrCat(target.args.size())};
  f.insert(f.end(), target.args.begin(), target.args.end());
  f.insert(f.end(), spec.env.begin(), spec.env.end());
  // NUL separates the fields; none of them can hold one (they are C strings).
  return absl::StrJoin(f, absl::string_view("\0", 1));
}

}  // namespace fabric::launcher
