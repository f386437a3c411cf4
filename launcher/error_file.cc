#include "launcher/error_file.h"

#include <cmath>
#include <utility>

#include "absl/strings/numbers.h"
#include "nlohmann/json.hpp"

namespace fabric::launcher {
namespace {

using Json = nlohmann::ordered_json;

// A timestamp as torch writes it (a string of digits) or as a number; 0 otherwise.
int64_t TimestampOf(const Json& j) {
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_number_float()) {
    const double d = j.get<double>();
    return std::isfinite(d) && std::fabs(d) < 9e18 ? static_cast<int64_t>(d) : 0;
  }
  int64_t t = 0;
  if (j.is_string() && absl::SimpleAtoi(j.get<std::string>(), &t)) return t;
  return 0;
}

}  // namespace

std::string EncodeErrorFile(const ErrorFile& error) {
  const Json j = {
      {"message",
       {{"message", error.message},
        {"extraInfo",
         {{"py_callstack", error.py_callstack}, {"timestamp", std::to_string(error.timestamp)}}}}}};
  return j.dump(-1, ' ', /*ensure_ascii=*/true, Json::error_handler_t::replace);
}

absl::StatusOr<ErrorFile> ParseErrorFile(absl::string_view json) {
  const Json j = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("error file is not a JSON object");
  }
  auto message = j.find("message");
  if (message == j.end()) return absl::InvalidArgumentError("error file has no 'message'");
  ErrorFile out;
  if (message->is_string()) {  // the flat form
    out.message = message->get<std::string>();
    if (auto ts = j.find("timestamp"); ts != j.end()) out.timestamp = TimestampOf(*ts);
    return out;
  }
  auto inner = message->is_object() ? message->find("message") : message->end();
  if (!message->is_object() || inner == message->end() || !inner->is_string()) {
    return absl::InvalidArgumentError("error file has no string 'message' or 'message.message'");
  }
  out.message = inner->get<std::string>();
  auto extra = message->find("extraInfo");
  if (extra != message->end() && extra->is_object()) {
    auto stack = extra->find("py_callstack");
    if (stack != extra->end() && stack->is_string()) out.py_callstack = stack->get<std::string>();
    if (auto ts = extra->find("timestamp"); ts != extra->end()) out.timestamp = TimestampOf(*ts);
  }
  return out;
}

}  // namespace fabric::launcher
