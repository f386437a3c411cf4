// MetricRegistry: Prometheus counters, gauges and histograms with labels, rendered in the
// text exposition format 0.0.4 (Render). Pure logic: no I/O; the HTTP side is
// common/metrics_http.h. Names follow Prometheus' rules (snake_case, counters end in
// `_total`, units as suffixes such as `_seconds`); the registry does not rewrite them.
//
// Thread safety: thread-safe (one mutex); the rendezvous server updates it from gRPC
// threads while its listener thread renders it.
#ifndef FABRIC_COMMON_METRICS_H_
#define FABRIC_COMMON_METRICS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace fabric {

// A series' labels, in the order given: {{"rank", "0"}}. Empty: the unlabelled series.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class MetricRegistry {
 public:
  MetricRegistry() = default;
  MetricRegistry(const MetricRegistry&) = delete;
  MetricRegistry& operator=(const MetricRegistry&) = delete;

  // Declares a family; families render in declaration order. REQUIRES: `name` is not
  // declared yet; a histogram's `buckets` (upper bounds) ascend (+Inf is implicit).
  // A counter or gauge declared with `start_at_zero` shows its unlabelled series as 0
  // before anything is recorded.
  void DeclareCounter(const std::string& name, const std::string& help, bool start_at_zero = true);
  void DeclareGauge(const std::string& name, const std::string& help, bool start_at_zero = true);
  void DeclareHistogram(const std::string& name, const std::string& help,
                        std::vector<double> buckets);

  // Counter += delta (REQUIRES: delta >= 0). Unknown names are ignored, as is a call on a
  // family of another type.
  void Add(const std::string& name, const MetricLabels& labels = {}, double delta = 1);
  // Gauge = value; Remove drops one series (e.g. a rank that is gone), Clear all of a
  // family's labelled and unlabelled series.
  void Set(const std::string& name, const MetricLabels& labels, double value);
  void Remove(const std::string& name, const MetricLabels& labels);
  void Clear(const std::string& name);
  // Histogram: one observation.
  void Observe(const std::string& name, const MetricLabels& labels, double value);

  // The current value of a counter's or gauge's series (0 when it has none); for tests.
  double Value(const std::string& name, const MetricLabels& labels = {}) const;

  // Every family: `# HELP`, `# TYPE`, then its series (histograms: `_bucket{le=...}`
  // cumulative, `_sum`, `_count`); label values and help text escaped as 0.0.4 says.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Histogram {
    std::vector<uint64_t> counts;  // per bucket, not cumulative; the last is +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    std::string name;
    std::string help;
    Type type;
    std::vector<double> buckets;
    std::map<MetricLabels, double> values;
    std::map<MetricLabels, Histogram> histograms;
  };
  void Declare(Family f, bool start_at_zero);
  Family* Find(const std::string& name, Type type) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void RenderFamily(const Family& f, std::string* out);

  mutable absl::Mutex mu_;
  std::vector<Family> families_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fabric

#endif  // FABRIC_COMMON_METRICS_H_
