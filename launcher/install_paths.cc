#include "launcher/install_paths.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace fabric::launcher {
namespace {

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::string LinkTarget(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf) - 1);
  return n < 0 ? "" : std::string(buf, n);
}

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::FailedPreconditionError(absl::StrCat(
      what, " ", path, ": ", std::strerror(errno),
      errno == EACCES || errno == EPERM ? " (run it as the environment's owner)" : ""));
}

}  // namespace

std::string SelfExecutable() { return LinkTarget("/proc/self/exe"); }

std::string VenvPythonBeside(const std::string& exe) {
  if (exe.empty()) return "";
  const std::string dir = DirName(exe);
  const std::string python = dir + "/python3";
  if (!Exists(DirName(dir) + "/pyvenv.cfg") || ::access(python.c_str(), X_OK) != 0) return "";
  return python;
}

absl::StatusOr<std::string> InstallTorchrun(const std::string& exe, bool undo) {
  if (exe.empty()) return absl::FailedPreconditionError("cannot read /proc/self/exe");
  const std::string dir = DirName(exe);
  const std::string torchrun = dir + "/torchrun";
  const std::string saved = torchrun + ".torch";
  const bool ours = LinkTarget(torchrun) == exe;
  if (undo) {
    if (!ours) {
      return absl::FailedPreconditionError(
          absl::StrCat(torchrun, " is not fabric-run's; nothing to undo"));
    }
    if (::unlink(torchrun.c_str()) != 0) return Errno("cannot remove", torchrun);
    if (Exists(saved)) {
      if (::rename(saved.c_str(), torchrun.c_str()) != 0) return Errno("cannot restore", saved);
      return absl::StrCat(torchrun, " is torch's again");
    }
    return absl::StrCat("removed ", torchrun, " (there was no torch's torchrun to restore)");
  }
  if (ours) return absl::StrCat(torchrun, " already runs fabric-run");
  if (Exists(torchrun)) {
    if (Exists(saved)) {
      return absl::FailedPreconditionError(
          absl::StrCat(saved, " exists already; remove it or move ", torchrun, " away first"));
    }
    if (::rename(torchrun.c_str(), saved.c_str()) != 0) return Errno("cannot rename", torchrun);
  }
  if (::symlink(exe.c_str(), torchrun.c_str()) != 0) return Errno("cannot create", torchrun);
  return absl::StrCat(torchrun, " now runs fabric-run (torch's is kept as ", saved,
                      "; `fabric-run install-torchrun --undo` puts it back)");
}

}  // namespace fabric::launcher
