// What each Lightning precision means for tensors (runtime/config.h names them):
//   32-true, 64-true, 16-true, bf16-true: parameters and floating-point inputs in
//     float32 / float64 / float16 / bfloat16;
//   bf16-mixed, 16-mixed: float32 parameters, the forward pass under autocast to
//     bfloat16 / float16 on the device's type (CPU autocast covers both in LibTorch 2.11);
//     16-mixed also scales the loss (grad_scaler.h).
// Forward outputs are returned in float32, as Lightning's precision plugins do.
//
// May throw LibTorch errors: call inside TorchCall. Not thread-safe (autocast state is
// thread-local).
#ifndef FABRIC_RUNTIME_PRECISION_H_
#define FABRIC_RUNTIME_PRECISION_H_

#include <optional>

#include "ATen/core/Tensor.h"
#include "c10/core/DeviceType.h"
#include "c10/core/ScalarType.h"
#include "runtime/config.h"

namespace fabric::runtime {

// The dtype of the module's parameters.
at::ScalarType ParamDtype(Precision p);
// The dtype autocast computes in, for the mixed precisions.
std::optional<at::ScalarType> AutocastDtype(Precision p);

// A floating-point `t` in the parameters' dtype ("-true" precisions); else `t`.
at::Tensor ConvertInput(const at::Tensor& t, Precision p);
// A floating-point `t` in float32 (what Lightning hands back from forward); else `t`.
at::Tensor ConvertOutput(const at::Tensor& t);

// Autocast to AutocastDtype(p) on `device_type` while alive (nothing for "-true").
// Restores the thread's previous autocast state, and clears autocast's cast cache when
// the outermost scope ends (as torch.autocast does).
class AutocastScope {
 public:
  AutocastScope(Precision p, c10::DeviceType device_type);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType device_type_;
  bool prev_enabled_ = false;
  at::ScalarType prev_dtype_ = at::kFloat;
};

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_PRECISION_H_
