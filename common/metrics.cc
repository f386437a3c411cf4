#include "common/metrics.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace fabric {
namespace {

// A sample value as 0.0.4 writes it: integers without a fraction, +Inf, -Inf, NaN.
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return absl::StrCat(static_cast<int64_t>(v));
  return absl::StrFormat("%.17g", v);
}

// Escapes `\` and newline (help text), and `"` too for a label value.
std::string Escape(const std::string& s, bool quote) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="1",le="0.5"}`, or nothing when there are no labels.
std::string LabelText(const MetricLabels& labels, const std::string& le = "") {
  std::string out;
  for (const auto& [k, v] : labels) {
    absl::StrAppend(&out, out.empty() ? "" : ",", k, "=\"", Escape(v, true), "\"");
  }
  if (!le.empty()) absl::StrAppend(&out, out.empty() ? "" : ",", "le=\"", le, "\"");
  return out.empty() ? "" : absl::StrCat("{", out, "}");
}

}  // namespace

void MetricRegistry::Declare(Family f, bool start_at_zero) {
  if (start_at_zero && f.type != Type::kHistogram) f.values[{}] = 0;
  absl::MutexLock lock(&mu_);
  families_.push_back(std::move(f));
}

void MetricRegistry::DeclareCounter(const std::string& name, const std::string& help,
                                    bool start_at_zero) {
  Declare(Family{name, help, Type::kCounter, {}, {}, {}}, start_at_zero);
}

void MetricRegistry::DeclareGauge(const std::string& name, const std::string& help,
                                  bool start_at_zero) {
  Declare(Family{name, help, Type::kGauge, {}, {}, {}}, start_at_zero);
}

void MetricRegistry::DeclareHistogram(const std::string& name, const std::string& help,
                                      std::vector<double> buckets) {
  Declare(Family{name, help, Type::kHistogram, std::move(buckets), {}, {}}, false);
}

MetricRegistry::Family* MetricRegistry::Find(const std::string& name, Type type) {
  for (Family& f : families_) {
    if (f.name == name) return f.type == type ? &f : nullptr;
  }
  return nullptr;
}

void MetricRegistry::Add(const std::string& name, const MetricLabels& labels, double delta) {
  absl::MutexLock lock(&mu_);
  if (Family* f = Find(name, Type::kCounter); f != nullptr && delta >= 0)
    f->values[labels] += delta;
}

void MetricRegistry::Set(const std::string& name, const MetricLabels& labels, double value) {
  absl::MutexLock lock(&mu_);
  if (Family* f = Find(name, Type::kGauge)) f->values[labels] = value;
}

void MetricRegistry::Remove(const std::string& name, const MetricLabels& labels) {
  absl::MutexLock lock(&mu_);
  if (Family* f = Find(name, Type::kGauge)) f->values.erase(labels);
}

void MetricRegistry::Clear(const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (Family* f = Find(name, Type::kGauge)) f->values.clear();
}

void MetricRegistry::Observe(const std::string& name, const MetricLabels& labels, double value) {
  absl::MutexLock lock(&mu_);
  Family* f = Find(name, Type::kHistogram);
  if (f == nullptr) return;
  Histogram& h = f->histograms[labels];
  h.counts.resize(f->buckets.size() + 1);
  size_t i = 0;
  while (i < f->buckets.size() && value > f->buckets[i]) ++i;
  ++h.counts[i];
  h.sum += value;
  ++h.count;
}

double MetricRegistry::Value(const std::string& name, const MetricLabels& labels) const {
  absl::MutexLock lock(&mu_);
  for (const Family& f : families_) {
    if (f.name != name) continue;
    auto it = f.values.find(labels);
    return it == f.values.end() ? 0 : it->second;
  }
  return 0;
}

void MetricRegistry::RenderFamily(const Family& f, std::string* out) {
  static constexpr const char* kTypeName[] = {"counter", "gauge", "histogram"};
  absl::StrAppend(out, "# HELP ", f.name, " ", Escape(f.help, false), "\n", "# TYPE ", f.name, " ",
                  kTypeName[static_cast<int>(f.type)], "\n");
  for (const auto& [labels, v] : f.values) {
    absl::StrAppend(out, f.name, LabelText(labels), " ", FormatValue(v), "\n");
  }
  for (const auto& [labels, h] : f.histograms) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= f.buckets.size(); ++i) {
      cumulative += h.counts[i];
      const std::string le = i < f.buckets.size() ? FormatValue(f.buckets[i]) : "+Inf";
      absl::StrAppend(out, f.name, "_bucket", LabelText(labels, le), " ", cumulative, "\n");
    }
    absl::StrAppend(out, f.name, "_sum", LabelText(labels), " ", FormatValue(h.sum), "\n");
    absl::StrAppend(out, f.name, "_count", LabelText(labels), " ", h.count, "\n");
  }
}

std::string MetricRegistry::Render() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const Family& f : families_) RenderFamily(f, &out);
  return out;
}

}  // namespace fabric
