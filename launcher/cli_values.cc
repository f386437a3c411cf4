#include "launcher/cli_values.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace fabric::launcher {

absl::Status Bad(const Raw& r, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(r.source, ": '", r.value, "' ", what));
}

absl::StatusOr<int> ParseInt(const Raw& r, int min, int max, absl::string_view fix) {
  int v = 0;
  if (!absl::SimpleAtoi(r.value, &v)) {
    return Bad(r, absl::StrCat("is not a whole number; ", fix));
  }
  if (v < min || v > max) {
    return Bad(r, absl::StrCat("is out of range; ", fix));
  }
  return v;
}

absl::StatusOr<bool> ParseBool(const Raw& r) {
  std::string v = absl::AsciiStrToLower(r.value);
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  return Bad(r, "is not a boolean; use true or false");
}

absl::StatusOr<absl::Duration> ParseDurationValue(const Raw& r, bool allow_zero) {
  std::string s(absl::StripAsciiWhitespace(r.value));
  absl::Duration d;
  double secs = 0;
  bool ok = false;
  if (absl::SimpleAtod(s, &secs)) {
    ok = std::isfinite(secs) && std::fabs(secs) < 1e9;
    d = absl::Seconds(secs);
  } else if (!s.empty() && absl::ParseDuration(s, &d)) {
    ok = d != absl::InfiniteDuration() && d != -absl::InfiniteDuration();
  }
  if (!ok) {
    return Bad(r, "is not a duration; use seconds (30, 2.5) or a unit (500ms, 30s, 2m)");
  }
  if (d < absl::ZeroDuration()) return Bad(r, "must not be negative");
  if (!allow_zero && d == absl::ZeroDuration()) return Bad(r, "must be more than 0");
  return d;
}

absl::StatusOr<int> ParsePort(const Raw& r, absl::string_view port) {
  int v = 0;
  if (!absl::SimpleAtoi(port, &v) || v < 1 || v > 65535) {
    return Bad(r, absl::StrCat("has port '", port, "' out of range; use a port in 1-65535"));
  }
  return v;
}

absl::StatusOr<std::string> ParseEndpoint(const Raw& r, int default_port) {
  const std::string& v = r.value;
  std::string host, port;
  if (absl::StartsWith(v, "[")) {
    size_t close = v.find(']');
    if (close == std::string::npos || close + 1 >= v.size() || v[close + 1] != ':') {
      return Bad(r, "is not [IPV6]:PORT");
    }
    host = v.substr(0, close + 1);
    port = v.substr(close + 2);
    if (host.size() <= 2) return Bad(r, "has an empty host; use HOST:PORT");
  } else {
    size_t colon = v.rfind(':');
    if (colon == std::string::npos && default_port == 0) {
      return Bad(r, "has no port; use HOST:PORT such as node0:29400");
    }
    host = v.substr(0, colon);
    port = colon == std::string::npos ? absl::StrCat(default_port) : v.substr(colon + 1);
    if (host.empty()) return Bad(r, "has an empty host; use HOST:PORT");
    if (host.find(':') != std::string::npos) {
      return Bad(r, "looks like an IPv6 address; bracket it: [::1]:29400");
    }
  }
  if (port == "0") return absl::StrCat(host, ":0");  // "any port": the caller decides
  FABRIC_ASSIGN_OR_RETURN(int p, ParsePort(r, port));
  return absl::StrCat(host, ":", p);
}

// Number of GPUs CUDA_VISIBLE_DEVICES exposes, or nullopt when it is not set.
// As in CUDA, ids after the first negative one ("-1") are ignored.
}  // namespace fabric::launcher
