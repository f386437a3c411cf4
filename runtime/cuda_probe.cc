#include "runtime/cuda_probe.h"

#include <string>

#include "absl/strings/match.h"
#include "c10/util/Exception.h"
#include "torch/cuda.h"

namespace fabric::runtime {
namespace {

// Keeps the first "CUDA initialization" warning; hands the others to `next`.
class InitWarningCatcher : public c10::WarningHandler {
 public:
  explicit InitWarningCatcher(c10::WarningHandler* next) : next_(next) {}
  void process(const c10::Warning& warning) override {
    const std::string& msg = warning.msg();
    if (absl::StartsWith(msg, "CUDA initialization")) {
      if (message_.empty()) message_ = msg;
    } else if (next_ != nullptr) {
      next_->process(warning);
    }
  }
  const std::string& message() const { return message_; }

 private:
  c10::WarningHandler* next_;
  std::string message_;
};

}  // namespace

CudaProbe ProbeCudaWith(const std::function<int()>& count) {
  InitWarningCatcher catcher(c10::WarningUtils::get_warning_handler());
  CudaProbe probe;
  {
    c10::WarningUtils::WarningHandlerGuard guard(&catcher);
    try {
      probe.devices = count();
    } catch (const c10::Error& e) {
      probe.devices = 0;
      probe.init_error = e.what_without_backtrace();
    } catch (const std::exception& e) {
      probe.devices = 0;
      probe.init_error = e.what();
    }
  }
  if (probe.init_error.empty()) probe.init_error = catcher.message();
  if (probe.devices < 0) probe.devices = 0;
  return probe;
}

CudaProbe ProbeCuda() {
  return ProbeCudaWith([] {
    // is_available() is false without a CUDA build or a driver, quietly; device_count()
    // is what warns about an initialisation that failed.
    return static_cast<int>(torch::cuda::device_count());
  });
}

}  // namespace fabric::runtime
