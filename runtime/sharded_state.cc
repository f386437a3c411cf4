#include "runtime/sharded_state.h"

#include <map>
#include <set>
#include <string>

#include "ATen/ATen.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "runtime/torch_status.h"

namespace fabric::runtime {
namespace {

constexpr char kFsdp[] = "fsdp/";

// The concatenation of every rank's "fsdp/<unit>/<what>" (a 1-D shard), or DataLoss.
absl::StatusOr<at::Tensor> Concat(const std::vector<TensorMap>& ranks, const std::string& key) {
  std::vector<at::Tensor> parts;
  for (size_t r = 0; r < ranks.size(); ++r) {
    auto it = ranks[r].find(key);
    if (it == ranks[r].end()) {
      return absl::DataLossError(
          absl::StrCat("sharded checkpoint: rank ", r, " has no '", key, "'"));
    }
    parts.push_back(it->second.reshape({-1}));
  }
  return at::cat(parts);
}

}  // namespace

absl::StatusOr<FullState> AssembleFullState(const std::vector<TensorMap>& ranks) {
  if (ranks.empty()) return absl::DataLossError("sharded checkpoint: no rank files");
  return TorchCall(0, "assemble a sharded checkpoint", [&]() -> absl::StatusOr<FullState> {
    FullState out;
    std::set<std::string> units;
    for (const auto& [key, t] : ranks[0]) {
      if (absl::StartsWith(key, "model/")) {
        out.model[key.substr(6)] = t;
      } else if (absl::StartsWith(key, "optim/")) {
        out.optimizer[key.substr(6)] = t;
      } else if (absl::StartsWith(key, kFsdp) && absl::EndsWith(key, "/layout")) {
        units.insert(key.substr(5, key.size() - 5 - 7));
      }
    }
    for (const std::string& unit : units) {
      const std::string base = absl::StrCat(kFsdp, unit, "/");
      const at::Tensor layout = ranks[0].at(base + "layout");
      if (layout.numel() != 4 || layout[3].item<int64_t>() != static_cast<int64_t>(ranks.size())) {
        return absl::DataLossError(absl::StrCat(
            "sharded checkpoint: unit '", unit, "' was saved by ", layout[3].item<int64_t>(),
            " ranks but ", ranks.size(), " rank files were read"));
      }
      // The unit's parameters and their place in its flat buffer.
      struct Place {
        int64_t offset, numel;
        std::vector<int64_t> shape;
      };
      std::map<std::string, Place> params;
      std::set<std::string> optim_keys;
      for (const auto& [key, t] : ranks[0]) {
        if (!absl::StartsWith(key, base)) continue;
        absl::string_view rest = absl::string_view(key).substr(base.size());
        if (absl::ConsumePrefix(&rest, "param/")) {
          std::vector<int64_t> v(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
          params[std::string(rest)] =
              Place{v[0], v[1], std::vector<int64_t>(v.begin() + 2, v.end())};
        } else if (absl::ConsumePrefix(&rest, "optim/")) {
          optim_keys.insert(std::string(rest));
        }
      }
      absl::StatusOr<at::Tensor> flat = Concat(ranks, base + "flat");
      if (!flat.ok()) return flat.status();
      for (const auto& [name, p] : params) {
        out.model[name] = flat->narrow(0, p.offset, p.numel).view(p.shape).clone();
      }
      for (const std::string& k : optim_keys) {
        const at::Tensor first = ranks[0].at(base + "optim/" + k);
        if (k == "step") {  // a scalar, the same on every rank
          for (const auto& [name, p] : params) out.optimizer[name + "/step"] = first;
          continue;
        }
        absl::StatusOr<at::Tensor> full = Concat(ranks, base + "optim/" + k);
        if (!full.ok()) return full.status();
        for (const auto& [name, p] : params) {
          out.optimizer[name + "/" + k] = full->narrow(0, p.offset, p.numel).view(p.shape).clone();
        }
      }
    }
    return out;
  });
}

}  // namespace fabric::runtime
