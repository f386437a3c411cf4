#include "runtime/precision.h"

#include "ATen/ATen.h"
#include "ATen/autocast_mode.h"

namespace fabric::runtime {

at::ScalarType ParamDtype(Precision p) {
  switch (p) {
    case Precision::k64True: return at::kDouble;
    case Precision::k16True: return at::kHalf;
    case Precision::kBf16True: return at::kBFloat16;
    default: return at::kFloat;
  }
}

std::optional<at::ScalarType> AutocastDtype(Precision p) {
  if (p == Precision::kBf16Mixed) return at::kBFloat16;
  if (p == Precision::k16Mixed) return at::kHalf;
  return std::nullopt;
}

at::Tensor ConvertInput(const at::Tensor& t, Precision p) {
  if (!t.defined() || !t.is_floating_point() || IsMixed(p)) return t;
  return t.to(ParamDtype(p));
}

at::Tensor ConvertOutput(const at::Tensor& t) {
  if (!t.defined() || !t.is_floating_point() || t.scalar_type() == at::kFloat) return t;
  return t.to(at::kFloat);
}

AutocastScope::AutocastScope(Precision p, c10::DeviceType device_type) : device_type_(device_type) {
  std::optional<at::ScalarType> dtype = AutocastDtype(p);
  if (!dtype.has_value()) return;
  active_ = true;
  prev_enabled_ = at::autocast::is_autocast_enabled(device_type_);
  prev_dtype_ = at::autocast::get_autocast_dtype(device_type_);
  at::autocast::set_autocast_dtype(device_type_, *dtype);
  at::autocast::set_autocast_enabled(device_type_, true);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_type_, prev_enabled_);
  at::autocast::set_autocast_dtype(device_type_, prev_dtype_);
}

}  // namespace fabric::runtime
