#include "launcher/torch_lookup.h"

#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/subprocess.h"
#include "common/unique_fd.h"

namespace fabric::launcher {
namespace {

// Prints "version=V" and "lib=DIR", or "error=WHY" when torch does not import.
constexpr char kTorchProbeScript[] =
    "import os, sys\n"
    "try:\n"
    "    import torch\n"
    "except Exception as e:\n"
    "    print('error=%s: %s' % (type(e).__name__, str(e).splitlines()[0] if str(e) else ''))\n"
    "    sys.exit(0)\n"
    "print('version=' + torch.__version__)\n"
    "print('lib=' + os.path.join(os.path.dirname(torch.__file__), 'lib'))\n";

bool ReadAt(int fd, off_t offset, void* buf, size_t n) {
  return ::pread(fd, buf, n, offset) == static_cast<ssize_t>(n);
}

}  // namespace

absl::StatusOr<std::string> ElfInterpreter(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  Elf64_Ehdr eh;
  if (!ReadAt(fd.get(), 0, &eh, sizeof(eh)) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr)) {
    return std::string();  // not a 64-bit ELF file: a script, or nothing we look into
  }
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    if (!ReadAt(fd.get(), eh.e_phoff + i * sizeof(ph), &ph, sizeof(ph))) break;
    if (ph.p_type != PT_INTERP || ph.p_filesz == 0 || ph.p_filesz > 4096) continue;
    std::string interp(ph.p_filesz, '\0');
    if (!ReadAt(fd.get(), ph.p_offset, interp.data(), interp.size())) break;
    interp.resize(std::strlen(interp.c_str()));
    return interp;
  }
  return std::string();  // static
}

std::vector<std::string> MissingLibraries(absl::string_view loader_list_output) {
  std::vector<std::string> missing;
  for (absl::string_view line : absl::StrSplit(loader_list_output, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    size_t arrow = line.find(" => not found");
    if (arrow != absl::string_view::npos) missing.emplace_back(line.substr(0, arrow));
  }
  return missing;
}

bool MissingLibTorch(const std::vector<std::string>& missing) {
  for (const std::string& lib : missing) {
    if (absl::StartsWith(lib, "libtorch") || absl::StartsWith(lib, "libc10")) return true;
  }
  return false;
}

absl::StatusOr<TorchProbe> ParseTorchProbe(absl::string_view output) {
  TorchProbe p;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::ConsumePrefix(&line, "version=")) p.version = std::string(line);
    if (absl::ConsumePrefix(&line, "lib=")) p.lib_dir = std::string(line);
    if (absl::ConsumePrefix(&line, "error=")) p.error = std::string(line);
  }
  if (p.error.empty() && (p.version.empty() || p.lib_dir.empty())) {
    return absl::InternalError(absl::StrCat("unexpected answer: '", output, "'"));
  }
  return p;
}

absl::StatusOr<std::optional<std::string>> TorchLibFor(const std::string& program,
                                                       const std::string& python) {
  absl::StatusOr<std::string> interp = ElfInterpreter(program);
  if (!interp.ok() || interp->empty()) return std::nullopt;
  // What ldd does: the loader lists the libraries and runs nothing (its --list stops at
  // the first missing one).
  absl::StatusOr<CommandResult> list = RunCommand(
      {"/usr/bin/env", "LD_TRACE_LOADED_OBJECTS=1", *interp, program}, "", absl::Seconds(30));
  if (!list.ok()) return std::nullopt;  // the exec reports it, as for any program
  std::vector<std::string> missing = MissingLibraries(list->out);
  if (!MissingLibTorch(missing)) return std::nullopt;
  const std::string needs =
      absl::StrCat(program, " links LibTorch (", missing.front(), " is not on its library path)");
  absl::StatusOr<CommandResult> run =
      RunCommand({python, "-c", kTorchProbeScript}, "", absl::Seconds(60));
  absl::StatusOr<TorchProbe> probe =
      run.ok() ? ParseTorchProbe(run->out) : absl::StatusOr<TorchProbe>(run.status());
  if (!probe.ok() || !probe->error.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        needs, " and ", python, " has no torch (",
        probe.ok() ? probe->error : std::string(probe.status().message()),
        "); install torch==", kTorchWanted, ".* there (pip install torch==", kTorchWanted,
        ".0), give --python a Python that has it, or put its torch/lib on LD_LIBRARY_PATH"));
  }
  if (!absl::StartsWith(probe->version, absl::StrCat(kTorchWanted, "."))) {
    return absl::FailedPreconditionError(absl::StrCat(
        needs, "; ", python, " has torch ", probe->version, " (", probe->lib_dir,
        ") but fabric-run's C++ runtime needs torch ", kTorchWanted,
        ": pip install torch==", kTorchWanted, ".0, or give --python a Python with it"));
  }
  return probe->lib_dir;
}

void AppendLibraryPath(const std::string& dir, EnvMap* env) {
  std::string& path = (*env)["LD_LIBRARY_PATH"];
  path = path.empty() ? dir : absl::StrCat(path, ":", dir);
}

}  // namespace fabric::launcher
