// libFuzzer target: fabric-run's command line. Input: byte 0 picks the personality and
// which environment variables are set (from the next NUL-separated fields), the rest is
// NUL-separated arguments. Invariant: OK, or one non-empty InvalidArgument line.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "launcher/cli.h"
#include "tools/fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fabric::launcher;
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::vector<std::string> fields =
      absl::StrSplit(absl::string_view(reinterpret_cast<const char*>(data + 1), size - 1), '\0');
  size_t f = 0;
  auto field = [&]() -> std::string { return f < fields.size() ? fields[f++] : ""; };
  fabric::EnvMap env = {{"PATH", "/bin:/usr/bin"}};
  if (mode & 0x02) env["PET_NNODES"] = field();
  if (mode & 0x04) env["FABRIC_DEVICES"] = field();
  if (mode & 0x08) {
    env["KUBERNETES_SERVICE_HOST"] = "10.96.0.1";
    env["MASTER_ADDR"] = field();
    env["MASTER_PORT"] = field();
    env["JOB_COMPLETION_INDEX"] = field();
  }
  if (mode & 0x10) env["PET_RDZV_ENDPOINT"] = field();
  std::vector<std::string> args(fields.begin() + static_cast<long>(f), fields.end());
  if (mode & 0x20) args.push_back("/bin/true");
  MachineFacts machine;
  machine.nvidia_gpus = (mode >> 6) & 1;
  machine.cpus = 2;
  const Personality who = (mode & 1) ? Personality::kTorchrun : Personality::kFabricRun;
  absl::StatusOr<CliResult> r = ParseCommandLine(args, env, machine, who);
  if (!r.ok()) {
    FUZZ_CHECK(r.status().code() == absl::StatusCode::kInvalidArgument, r.status().ToString());
    FUZZ_CHECK(!r.status().message().empty(), r.status().ToString());
    FUZZ_CHECK(!absl::StrContains(r.status().message(), "\n"), r.status().ToString());
  }
  return 0;
}
