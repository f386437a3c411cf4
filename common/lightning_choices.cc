#include "common/lightning_choices.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fabric {

const std::vector<std::string>& Strategies() {
  static const auto* const kList = new std::vector<std::string>{"auto",
                                                                "single_device",
                                                                "ddp",
                                                                "ddp_find_unused_parameters_false",
                                                                "ddp_find_unused_parameters_true",
                                                                "fsdp",
                                                                "fsdp_cpu_offload"};
  return *kList;
}

const std::vector<std::string>& Precisions() {
  static const auto* const kList = new std::vector<std::string>{
      "32-true", "64-true", "16-true", "bf16-true", "16-mixed", "bf16-mixed"};
  return *kList;
}

absl::StatusOr<std::string> CanonicalStrategy(absl::string_view value) {
  std::string s = absl::AsciiStrToLower(value);
  if (s == "single") s = "single_device";
  for (const std::string& known : Strategies()) {
    if (s == known) return s;
  }
  if (absl::StartsWith(s, "ddp_spawn") || absl::StartsWith(s, "ddp_fork") ||
      absl::StartsWith(s, "ddp_notebook")) {
    return absl::InvalidArgumentError(
        "starts its own processes, but fabric-run already starts one per device; use "
        "--strategy ddp");
  }
  if (s == "dp") {
    return absl::InvalidArgumentError(
        "(DataParallel) drives every device from one process, but fabric-run starts one "
        "process per device; use --strategy ddp");
  }
  if (absl::StartsWith(s, "deepspeed")) {
    return absl::InvalidArgumentError("is not supported by fabric-run; use ddp or fsdp");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("is not a known strategy; use one of ", absl::StrJoin(Strategies(), ", ")));
}

absl::StatusOr<std::string> CanonicalPrecision(absl::string_view value) {
  std::string s = absl::AsciiStrToLower(value);
  if (s == "64") s = "64-true";
  if (s == "32") s = "32-true";
  if (s == "16") s = "16-mixed";
  if (s == "bf16") s = "bf16-mixed";
  for (const std::string& known : Precisions()) {
    if (s == known) return s;
  }
  return absl::InvalidArgumentError(absl::StrCat("is not a precision; use one of ",
                                                 absl::StrJoin(Precisions(), ", "),
                                                 " (or Lightning's legacy 64, 32, 16, bf16)"));
}

}  // namespace fabric
