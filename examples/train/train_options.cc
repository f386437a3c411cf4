#include "examples/train/train_options.h"

#include <functional>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace fabric::examples {

std::string TrainUsage() {
  return "usage: train [--strategy ddp|fsdp|single_device|...] [--precision 32-true|bf16-mixed|...]\n"
         "             [--accelerator cpu|cuda] [--process-group-backend nccl|gloo] [--fsdp-units TYPE] [--activation-checkpointing TYPE] [--steps N] [--batch-size N]\n"
         "             [--seq-len N]\n"
         "             [--vocab N] [--d-model N] [--layers N] [--heads N] [--lr X] [--seed N]\n"
         "             [--ckpt-dir DIR] [--ckpt-every N] [--log-every N] [--warmup-steps N]\n"
         "             [--crash-at-step N] [--crash-rank N] [--crash-with exit|kill]\n"
         "             [--step-log DIR] [--dump-params FILE] [--loss-scale-growth-interval N]\n"
         "Resumes from DIR/last.ckpt when it exists.\n";
}

absl::StatusOr<TrainOptions> ParseTrainOptions(const std::vector<std::string>& args) {
  TrainOptions o;
  auto positive_int = [](int* out) {
    return [out](const std::string& v) { return absl::SimpleAtoi(v, out) && *out > 0; };
  };
  auto any_int = [](int* out) {
    return [out](const std::string& v) { return absl::SimpleAtoi(v, out); };
  };
  auto str = [](std::optional<std::string>* out) {
    return [out](const std::string& v) {
      *out = v;
      return !v.empty();
    };
  };
  std::map<std::string, std::function<bool(const std::string&)>> flags = {
      {"strategy", str(&o.strategy)},
      {"precision", str(&o.precision)},
      {"accelerator", str(&o.accelerator)},
      {"process-group-backend",
       [&o](const std::string& v) {
         o.process_group_backend = v;
         return v == "nccl" || v == "gloo";
       }},
      {"steps", positive_int(&o.steps)},
      {"batch-size", positive_int(&o.batch_size)},
      {"seq-len", positive_int(&o.seq_len)},
      {"vocab", positive_int(&o.vocab)},
      {"d-model", positive_int(&o.d_model)},
      {"layers", positive_int(&o.layers)},
      {"heads", positive_int(&o.heads)},
      {"lr", [&o](const std::string& v) { return absl::SimpleAtod(v, &o.lr) && o.lr > 0; }},
      {"seed", [&o](const std::string& v) { return absl::SimpleAtoi(v, &o.seed); }},
      {"ckpt-dir",
       [&o](const std::string& v) {
         o.ckpt_dir = v;
         return !v.empty();
       }},
      {"ckpt-every", positive_int(&o.ckpt_every)},
      {"log-every", positive_int(&o.log_every)},
      {"warmup-steps", any_int(&o.warmup_steps)},
      {"crash-at-step", any_int(&o.crash_at_step)},
      {"crash-rank", any_int(&o.crash_rank)},
      {"loss-scale-growth-interval", positive_int(&o.loss_scale_growth_interval)},
      {"crash-with",
       [&o](const std::string& v) {
         o.crash_with = v;
         return v == "exit" || v == "kill";
       }},
      {"step-log",
       [&o](const std::string& v) {
         o.step_log_dir = v;
         return !v.empty();
       }},
      {"dump-params",
       [&o](const std::string& v) {
         o.dump_params = v;
         return !v.empty();
       }},
      {"fsdp-units",
       [&o](const std::string& v) {
         o.fsdp_units = v;
         return !v.empty();
       }},
      {"activation-checkpointing",
       [&o](const std::string& v) {
         o.fsdp_checkpoint = v;
         return !v.empty();
       }},
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") return absl::NotFoundError(TrainUsage());
    if (!absl::StartsWith(a, "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", a, "'\n", TrainUsage()));
    }
    std::string name = a.substr(2), value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
    }
    auto it = flags.find(name);
    if (it == flags.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, "\n", TrainUsage()));
    }
    if (!it->second(value)) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, "='", value, "' is not valid"));
    }
  }
  if (o.d_model % o.heads != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--d-model=", o.d_model, " must be a multiple of --heads=", o.heads));
  }
  if (o.vocab < 16) return absl::InvalidArgumentError("--vocab must be at least 16");
  return o;
}

}  // namespace fabric::examples
