#include "slurm/hostlist.h"

#include <cctype>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/one_line.h"

namespace fabric::slurm {
namespace {

// Longest digit run we treat as a number (fits int64 with room for +1).
constexpr size_t kMaxDigits = 18;

bool IsSeparator(char c) { return c == ',' || std::isspace(static_cast<unsigned char>(c)); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

absl::Status HostlistError(absl::string_view input, size_t pos, absl::string_view problem) {
  return absl::InvalidArgumentError(OneLineText(
      absl::StrFormat("invalid hostlist \"%s\": %s at position %d", input, problem, pos)));
}

std::string Pad(int64_t value, size_t width) {
  std::string digits = absl::StrCat(value);
  if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
  return digits;
}

// Parses a run of digits at `*pos` of `s` (advancing *pos). Returns the digits.
absl::StatusOr<std::string> ParseDigits(absl::string_view input, absl::string_view s, size_t base,
                                        size_t* pos) {
  size_t start = *pos;
  while (*pos < s.size() && IsDigit(s[*pos])) ++*pos;
  if (*pos == start) return HostlistError(input, base + start, "expected a number");
  if (*pos - start > kMaxDigits) return HostlistError(input, base + start, "number too long");
  return std::string(s.substr(start, *pos - start));
}

// Expands the inside of one bracket group ("01-03,07") into padded strings.
// `base` is the offset of `body` inside `input`, for messages.
absl::StatusOr<std::vector<std::string>> ExpandBracket(absl::string_view input,
                                                       absl::string_view body, size_t base) {
  std::vector<std::string> out;
  if (body.empty()) return HostlistError(input, base, "empty brackets");
  size_t pos = 0;
  while (true) {
    const size_t item_start = pos;
    absl::StatusOr<std::string> lo = ParseDigits(input, body, base, &pos);
    if (!lo.ok()) return lo.status();
    int64_t lo_value = std::stoll(*lo);
    int64_t hi_value = lo_value;
    if (pos < body.size() && body[pos] == '-') {
      ++pos;
      absl::StatusOr<std::string> hi = ParseDigits(input, body, base, &pos);
      if (!hi.ok()) return hi.status();
      hi_value = std::stoll(*hi);
      if (hi_value < lo_value) {
        return HostlistError(input, base + item_start,
                             absl::StrCat("range ", *lo, "-", *hi, " goes backwards"));
      }
    }
    if (hi_value - lo_value >= kMaxExpandedHosts ||
        out.size() + (hi_value - lo_value + 1) > static_cast<size_t>(kMaxExpandedHosts)) {
      return HostlistError(input, base + item_start,
                           absl::StrCat("more than ", kMaxExpandedHosts, " hosts"));
    }
    for (int64_t v = lo_value; v <= hi_value; ++v) out.push_back(Pad(v, lo->size()));
    if (pos == body.size()) break;
    if (body[pos] != ',') {
      return HostlistError(input, base + pos,
                           absl::StrCat("unexpected '", body.substr(pos, 1), "' in brackets"));
    }
    ++pos;
    if (pos == body.size()) return HostlistError(input, base + pos, "expected a number");
  }
  return out;
}

// Expands one top-level element (no top-level commas) starting at `base`.
absl::Status ExpandElement(absl::string_view input, absl::string_view element, size_t base,
                           std::vector<std::string>* hosts) {
  std::vector<std::string> partial = {""};
  size_t pos = 0;
  while (pos < element.size()) {
    const char c = element[pos];
    if (c == ']') return HostlistError(input, base + pos, "unmatched ']'");
    if (c != '[') {
      size_t end = element.find_first_of("[]", pos);
      if (end == absl::string_view::npos) end = element.size();
      for (std::string& p : partial) absl::StrAppend(&p, element.substr(pos, end - pos));
      pos = end;
      continue;
    }
    const size_t close = element.find_first_of("[]", pos + 1);
    if (close == absl::string_view::npos) {
      return HostlistError(input, base + pos, "'[' is never closed");
    }
    if (element[close] == '[') return HostlistError(input, base + close, "nested '['");
    absl::StatusOr<std::vector<std::string>> values =
        ExpandBracket(input, element.substr(pos + 1, close - pos - 1), base + pos + 1);
    if (!values.ok()) return values.status();
    if (partial.size() * values->size() + hosts->size() > static_cast<size_t>(kMaxExpandedHosts)) {
      return HostlistError(input, base + pos,
                           absl::StrCat("more than ", kMaxExpandedHosts, " hosts"));
    }
    std::vector<std::string> next;
    next.reserve(partial.size() * values->size());
    for (const std::string& p : partial) {
      for (const std::string& v : *values) next.push_back(absl::StrCat(p, v));
    }
    partial = std::move(next);
    pos = close + 1;
  }
  for (std::string& p : partial) hosts->push_back(std::move(p));
  return absl::OkStatus();
}

// A host name split around its last digit run: prefix + number + suffix.
struct SplitName {
  std::string prefix;
  std::string digits;  // empty: no number (or one too long to merge)
  std::string suffix;
};

SplitName Split(const std::string& host) {
  size_t end = host.size();
  while (end > 0 && !IsDigit(host[end - 1])) --end;
  size_t start = end;
  while (start > 0 && IsDigit(host[start - 1])) --start;
  if (start == end || end - start > kMaxDigits) return {host, "", ""};
  return {host.substr(0, start), host.substr(start, end - start), host.substr(end)};
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ExpandHostlist(absl::string_view hostlist) {
  std::vector<std::string> hosts;
  size_t pos = 0;
  bool have_element = false;  // an element since the last comma
  bool after_comma = false;
  size_t last_comma = 0;
  while (pos < hostlist.size()) {
    const char c = hostlist[pos];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++pos;
      continue;
    }
    if (c == ',') {
      if (!have_element) return HostlistError(hostlist, pos, "empty host name before ','");
      have_element = false;
      after_comma = true;
      last_comma = pos;
      ++pos;
      continue;
    }
    // An element runs to the next separator outside brackets.
    size_t end = pos;
    int depth = 0;
    while (end < hostlist.size() && (depth > 0 || !IsSeparator(hostlist[end]))) {
      if (hostlist[end] == '[') ++depth;
      if (hostlist[end] == ']' && depth > 0) --depth;
      ++end;
    }
    absl::Status status = ExpandElement(hostlist, hostlist.substr(pos, end - pos), pos, &hosts);
    if (!status.ok()) return status;
    have_element = true;
    after_comma = false;
    pos = end;
  }
  if (after_comma) return HostlistError(hostlist, last_comma, "empty host name after ','");
  return hosts;
}

absl::StatusOr<std::string> CompressHostlist(const std::vector<std::string>& hosts) {
  for (size_t i = 0; i < hosts.size(); ++i) {
    const std::string& h = hosts[i];
    bool bad = h.empty();
    for (char c : h) bad = bad || c == '[' || c == ']' || IsSeparator(c);
    if (bad) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "cannot compress host %d \"%s\": a host name must be non-empty and free of "
          "'[', ']', ',' and whitespace",
          i, OneLineText(h)));
    }
  }
  std::vector<std::string> elements;
  size_t i = 0;
  while (i < hosts.size()) {
    const SplitName first = Split(hosts[i]);
    if (first.digits.empty()) {
      elements.push_back(hosts[i++]);
      continue;
    }
    // Collect the following hosts with the same prefix and suffix into one bracket,
    // as ranges whose members print exactly as the originals do.
    std::vector<std::string> ranges;
    std::string lo = first.digits;
    int64_t lo_value = std::stoll(lo);
    int64_t hi_value = lo_value;
    size_t j = i + 1;
    for (; j < hosts.size(); ++j) {
      const SplitName next = Split(hosts[j]);
      if (next.digits.empty() || next.prefix != first.prefix || next.suffix != first.suffix) {
        break;
      }
      const int64_t value = std::stoll(next.digits);
      if (value == hi_value + 1 && next.digits == Pad(value, lo.size())) {
        hi_value = value;
        continue;
      }
      ranges.push_back(hi_value == lo_value ? lo : absl::StrCat(lo, "-", Pad(hi_value, lo.size())));
      lo = next.digits;
      lo_value = hi_value = value;
    }
    ranges.push_back(hi_value == lo_value ? lo : absl::StrCat(lo, "-", Pad(hi_value, lo.size())));
    if (j == i + 1) {
      elements.push_back(hosts[i]);
    } else {
      elements.push_back(
          absl::StrCat(first.prefix, "[", absl::StrJoin(ranges, ","), "]", first.suffix));
    }
    i = j;
  }
  return absl::StrJoin(elements, ",");
}

absl::StatusOr<std::vector<int>> DecodeTasksPerNode(absl::string_view spec) {
  auto error = [spec](size_t pos, absl::string_view problem) {
    return absl::InvalidArgumentError(OneLineText(absl::StrFormat(
        "invalid tasks-per-node \"%s\": %s at position %d (expected e.g. \"2(x3),1\")", spec,
        problem, pos)));
  };
  if (spec.empty()) return error(0, "empty value");
  std::vector<int> counts;
  size_t pos = 0;
  auto parse_int = [&]() -> std::optional<int64_t> {
    size_t start = pos;
    while (pos < spec.size() && IsDigit(spec[pos])) ++pos;
    if (pos == start || pos - start > 9) return std::nullopt;
    return std::stoll(std::string(spec.substr(start, pos - start)));
  };
  while (true) {
    const size_t count_pos = pos;
    std::optional<int64_t> count = parse_int();
    if (!count) return error(count_pos, "expected a task count");
    if (*count < 1) return error(count_pos, "task count must be at least 1");
    int64_t repeat = 1;
    if (pos < spec.size() && spec[pos] == '(') {
      if (spec.substr(pos, 2) != "(x") return error(pos, "expected \"(x\"");
      pos += 2;
      const size_t repeat_pos = pos;
      std::optional<int64_t> r = parse_int();
      if (!r) return error(repeat_pos, "expected a repeat count");
      if (*r < 1) return error(repeat_pos, "repeat count must be at least 1");
      if (pos >= spec.size() || spec[pos] != ')') return error(pos, "expected ')'");
      ++pos;
      repeat = *r;
    }
    if (counts.size() + repeat > static_cast<size_t>(kMaxExpandedHosts)) {
      return error(count_pos, absl::StrCat("more than ", kMaxExpandedHosts, " nodes"));
    }
    counts.insert(counts.end(), repeat, static_cast<int>(*count));
    if (pos == spec.size()) break;
    if (spec[pos] != ',') {
      return error(pos, absl::StrCat("unexpected '", spec.substr(pos, 1), "'"));
    }
    ++pos;
  }
  return counts;
}

std::string EncodeTasksPerNode(const std::vector<int>& counts) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < counts.size();) {
    size_t j = i;
    while (j < counts.size() && counts[j] == counts[i]) ++j;
    parts.push_back(j - i == 1 ? absl::StrCat(counts[i])
                               : absl::StrCat(counts[i], "(x", j - i, ")"));
    i = j;
  }
  return absl::StrJoin(parts, ",");
}

}  // namespace fabric::slurm
