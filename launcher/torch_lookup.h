// Finding LibTorch for a native program that links it (the C++ runtime's trainers, a
// CMake-built `train`) wherever the user has torch, not only where it was built.
//
// Before the first attempt, when the program names a LibTorch library (DT_NEEDED), the
// agent asks the program's own dynamic loader
// (LD_TRACE_LOADED_OBJECTS=1 INTERP PROGRAM, what ldd does) which libraries it cannot find. When those
// include LibTorch's (libtorch*.so, libc10*.so), it asks --python where torch is
// (`import torch`) and puts torch/lib after the user's LD_LIBRARY_PATH in the workers'
// environment, as a C++ extension finds LibTorch in the interpreter that imported torch.
// A program that finds LibTorch by itself (its RUNPATH, the user's LD_LIBRARY_PATH), a
// static one, a script: left as they are. No torch, or not the version this build's
// runtime needs: one line naming what was found and what is needed.
#ifndef FABRIC_LAUNCHER_TORCH_LOOKUP_H_
#define FABRIC_LAUNCHER_TORCH_LOOKUP_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/worker_env.h"

namespace fabric::launcher {

// The torch major.minor the C++ runtime is built against (@torch//:defs.bzl).
inline constexpr char kTorchWanted[] = FABRIC_TORCH_WANTED;

struct ElfDeps {
  std::string interpreter;          // PT_INTERP; empty: static, or no ELF file (a script)
  std::vector<std::string> needed;  // DT_NEEDED, in order
};

// What the dynamic loader will read of the 64-bit ELF executable at `path`. A file that is
// no such executable gives an empty ElfDeps. Errors: the file cannot be read.
absl::StatusOr<ElfDeps> ReadElfDeps(const std::string& path);

// The libraries the loader's list says are not found ("libx.so => not found").
// Pure.
std::vector<std::string> MissingLibraries(absl::string_view loader_list_output);

// Whether any of `libraries` is one of LibTorch's (libtorch*, libc10*). Pure.
bool MissingLibTorch(const std::vector<std::string>& libraries);

struct TorchProbe {
  std::string version;  // torch.__version__, e.g. "2.11.0+cu130"
  std::string lib_dir;  // torch/lib
  std::string error;    // when torch could not be imported: the exception, one line
};

// Reads the probe script's output (kTorchProbeScript's). Pure.
absl::StatusOr<TorchProbe> ParseTorchProbe(absl::string_view output);

// The directory to add for `program`, or nullopt when nothing is needed; `python` is the
// resolved --python. Errors (FailedPrecondition, one line): LibTorch missing and no torch
// in `python`, or torch of another version than kTorchWanted.
absl::StatusOr<std::optional<std::string>> TorchLibFor(const std::string& program,
                                                       const std::string& python);

// `env`'s LD_LIBRARY_PATH with `dir` appended (the user's entries keep precedence). Pure.
void AppendLibraryPath(const std::string& dir, EnvMap* env);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_TORCH_LOOKUP_H_
