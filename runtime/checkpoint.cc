#include "runtime/checkpoint.h"

#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "runtime/torch_status.h"
#include "torch/csrc/jit/serialization/pickle.h"

namespace fabric::runtime {
namespace {

constexpr int64_t kFormat = 1;

void PutAll(c10::Dict<std::string, at::Tensor>& dict, const std::string& prefix,
            const TensorMap& m) {
  // On the CPU, so that a checkpoint written from a GPU loads on any device.
  for (const auto& [k, v] : m) dict.insert(prefix + k, v.detach().to(at::kCPU).contiguous());
}

}  // namespace

absl::Status WriteCheckpoint(const std::string& path, const CheckpointData& data, int rank,
                             const AtomicWriteOptions& write_options) {
  FABRIC_ASSIGN_OR_RETURN(
      std::vector<char> bytes, TorchCall(rank, absl::StrCat("serialize checkpoint ", path), [&] {
        c10::Dict<std::string, at::Tensor> dict;
        dict.insert("format", at::scalar_tensor(kFormat, at::kLong));
        dict.insert("step", at::scalar_tensor(data.step, at::kLong));
        dict.insert("world_size", at::scalar_tensor(data.world_size, at::kLong));
        if (data.rng_state.defined()) dict.insert("rng/cpu", data.rng_state);
        if (data.cuda_rng_state.defined()) {
          dict.insert("rng/cuda", data.cuda_rng_state.to(at::kCPU));
        }
        PutAll(dict, "model/", data.model);
        PutAll(dict, "optim/", data.optimizer);
        PutAll(dict, "extra/", data.extra);
        return torch::jit::pickle_save(c10::IValue(dict));
      }));
  absl::Status s =
      WriteFileAtomically(path, absl::string_view(bytes.data(), bytes.size()), write_options);
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat("rank ", rank, ": save checkpoint: ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<CheckpointData> ReadCheckpoint(const std::string& path, int rank) {
  absl::StatusOr<std::string> raw = ReadWholeFile(path);
  if (!raw.ok()) {
    return absl::Status(raw.status().code(),
                        absl::StrCat("rank ", rank, ": load checkpoint: ", raw.status().message()));
  }
  absl::StatusOr<c10::IValue> value = TorchCall(rank, absl::StrCat("load checkpoint ", path), [&] {
    return torch::jit::pickle_load(std::vector<char>(raw->begin(), raw->end()));
  });
  if (!value.ok() || !value->isGenericDict()) {
    return absl::DataLossError(
        absl::StrCat("rank ", rank, ": load checkpoint: ", path, " is not a fabric-run checkpoint",
                     value.ok() ? "" : absl::StrCat(" (", value.status().message(), ")")));
  }
  return TorchCall(
      rank, absl::StrCat("read checkpoint ", path), [&]() -> absl::StatusOr<CheckpointData> {
        CheckpointData out;
        bool has_format = false;
        for (const auto& entry : value->toGenericDict()) {
          const std::string key = entry.key().toStringRef();
          const at::Tensor t = entry.value().toTensor();
          if (key == "format") {
            has_format = t.item<int64_t>() == kFormat;
          } else if (key == "step") {
            out.step = t.item<int64_t>();
          } else if (key == "world_size") {
            out.world_size = t.item<int64_t>();
          } else if (key == "rng/cpu") {
            out.rng_state = t;
          } else if (key == "rng/cuda") {
            out.cuda_rng_state = t;
          } else if (absl::StartsWith(key, "model/")) {
            out.model[key.substr(6)] = t;
          } else if (absl::StartsWith(key, "optim/")) {
            out.optimizer[key.substr(6)] = t;
          } else if (absl::StartsWith(key, "extra/")) {
            out.extra[key.substr(6)] = t;
          }
        }
        if (!has_format) {
          return absl::DataLossError(absl::StrCat("rank ", rank, ": load checkpoint: ", path,
                                                  " has no 'format' = 1 entry"));
        }
        return out;
      });
}

absl::Status WriteTensorFile(const std::string& path, const TensorMap& tensors, int rank,
                             const AtomicWriteOptions& write_options) {
  FABRIC_ASSIGN_OR_RETURN(std::vector<char> bytes,
                          TorchCall(rank, absl::StrCat("serialize ", path), [&] {
                            c10::Dict<std::string, at::Tensor> dict;
                            dict.insert("format", at::scalar_tensor(kFormat, at::kLong));
                            PutAll(dict, "", tensors);
                            return torch::jit::pickle_save(c10::IValue(dict));
                          }));
  absl::Status s =
      WriteFileAtomically(path, absl::string_view(bytes.data(), bytes.size()), write_options);
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat("rank ", rank, ": save ", path, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<TensorMap> ReadTensorFile(const std::string& path, int rank) {
  absl::StatusOr<std::string> raw = ReadWholeFile(path);
  if (!raw.ok()) {
    return absl::Status(raw.status().code(),
                        absl::StrCat("rank ", rank, ": load ", path, ": ", raw.status().message()));
  }
  absl::StatusOr<c10::IValue> value = TorchCall(rank, absl::StrCat("load ", path), [&] {
    return torch::jit::pickle_load(std::vector<char>(raw->begin(), raw->end()));
  });
  if (!value.ok() || !value->isGenericDict()) {
    return absl::DataLossError(
        absl::StrCat("rank ", rank, ": load ", path, " is not a fabric-run tensor file"));
  }
  return TorchCall(rank, absl::StrCat("read ", path), [&]() -> absl::StatusOr<TensorMap> {
    TensorMap out;
    for (const auto& entry : value->toGenericDict()) {
      const std::string key = entry.key().toStringRef();
      if (key != "format") out[key] = entry.value().toTensor();
    }
    return out;
  });
}

}  // namespace fabric::runtime
