#include "launcher/torch_lookup.h"

#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

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

absl::StatusOr<ElfDeps> ReadElfDeps(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  ElfDeps deps;
  Elf64_Ehdr eh;
  if (!ReadAt(fd.get(), 0, &eh, sizeof(eh)) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
      eh.e_phnum > 256) {
    return deps;  // not a 64-bit ELF file: a script, or nothing we look into
  }
  std::vector<Elf64_Phdr> ph(eh.e_phnum);
  if (!ReadAt(fd.get(), eh.e_phoff, ph.data(), ph.size() * sizeof(Elf64_Phdr))) return deps;
  // A virtual address of the file's image -> its file offset (through the PT_LOADs).
  auto offset_of = [&](uint64_t vaddr) -> std::optional<uint64_t> {
    for (const Elf64_Phdr& p : ph) {
      if (p.p_type == PT_LOAD && vaddr >= p.p_vaddr && vaddr < p.p_vaddr + p.p_filesz) {
        return vaddr - p.p_vaddr + p.p_offset;
      }
    }
    return std::nullopt;
  };
  for (const Elf64_Phdr& p : ph) {
    if (p.p_type == PT_INTERP && p.p_filesz > 0 && p.p_filesz <= 4096) {
      std::string interp(p.p_filesz, '\0');
      if (ReadAt(fd.get(), p.p_offset, interp.data(), interp.size())) {
        deps.interpreter = interp.c_str();
      }
    }
    if (p.p_type != PT_DYNAMIC || p.p_filesz > (1 << 20)) continue;
    std::vector<Elf64_Dyn> dyn(p.p_filesz / sizeof(Elf64_Dyn));
    if (!ReadAt(fd.get(), p.p_offset, dyn.data(), dyn.size() * sizeof(Elf64_Dyn))) continue;
    uint64_t strtab = 0, strsz = 0;
    std::vector<uint64_t> needed;
    for (const Elf64_Dyn& d : dyn) {
      if (d.d_tag == DT_NULL) break;
      if (d.d_tag == DT_STRTAB) strtab = d.d_un.d_ptr;
      if (d.d_tag == DT_STRSZ) strsz = d.d_un.d_val;
      if (d.d_tag == DT_NEEDED) needed.push_back(d.d_un.d_val);
    }
    std::optional<uint64_t> at = offset_of(strtab);
    if (!at || strsz == 0 || strsz > (16 << 20)) continue;
    std::string strings(strsz, '\0');
    if (!ReadAt(fd.get(), *at, strings.data(), strings.size())) continue;
    for (uint64_t n : needed) {
      if (n < strsz) deps.needed.emplace_back(strings.c_str() + n);
    }
  }
  return deps;
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
  absl::StatusOr<ElfDeps> deps = ReadElfDeps(program);
  // Static, a script, or LibTorch not named: nothing to look for (and no loader run, which
  // would cost a no-op job a third of its time).
  if (!deps.ok() || deps->interpreter.empty() || !MissingLibTorch(deps->needed)) {
    return std::nullopt;
  }
  // What ldd does: the loader lists the libraries and runs nothing (its --list stops at
  // the first missing one).
  absl::StatusOr<CommandResult> list =
      RunCommand({"/usr/bin/env", "LD_TRACE_LOADED_OBJECTS=1", deps->interpreter, program}, "",
                 absl::Seconds(30));
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
