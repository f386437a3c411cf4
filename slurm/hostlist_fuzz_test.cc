// Deterministic randomized checks of the hostlist code: round trips of generated host
// lists, and arbitrary strings never crash the parsers (OK or InvalidArgument only).
#include <random>
#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "slurm/hostlist.h"

namespace fabric::slurm {
namespace {

std::string RandomHost(std::mt19937& rng) {
  static const std::vector<std::string> kPrefixes = {"n",   "node",    "gpu-", "rack1-node",
                                                     "a1b", "10.0.0.", "x"};
  static const std::vector<std::string> kSuffixes = {"", "", "", ".ib", "-eth0", "b"};
  std::string host = kPrefixes[rng() % kPrefixes.size()];
  if (rng() % 8 != 0) {  // mostly numbered
    const int value = static_cast<int>(rng() % 120);
    std::string digits = std::to_string(value);
    const size_t width = rng() % 4;  // sometimes zero-padded
    if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
    host += digits;
  }
  return host + kSuffixes[rng() % kSuffixes.size()];
}

TEST(HostlistFuzzTest, CompressThenExpandIsIdentity) {
  std::mt19937 rng(20240611);
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::string> hosts;
    const int n = static_cast<int>(rng() % 30);
    // Runs of consecutive numbers are what SLURM produces; mix them with random names.
    while (static_cast<int>(hosts.size()) < n) {
      if (rng() % 2 == 0) {
        const int start = static_cast<int>(rng() % 50);
        const int len = 1 + static_cast<int>(rng() % 6);
        const bool padded = rng() % 2 == 0;
        for (int i = start; i < start + len; ++i) {
          std::string digits = std::to_string(i);
          if (padded && digits.size() < 3) digits.insert(0, 3 - digits.size(), '0');
          hosts.push_back("node" + digits);
        }
      } else {
        hosts.push_back(RandomHost(rng));
      }
    }
    FABRIC_ASSERT_OK_AND_ASSIGN(std::string compressed, CompressHostlist(hosts));
    FABRIC_ASSERT_OK_AND_ASSIGN(std::vector<std::string> expanded, ExpandHostlist(compressed));
    ASSERT_EQ(expanded, hosts) << compressed;
  }
}

TEST(HostlistFuzzTest, ArbitraryInputNeverCrashes) {
  std::mt19937 rng(7);
  const std::string alphabet = "n0123456789[]-,() x";
  int ok = 0;
  int invalid = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string input;
    const int len = static_cast<int>(rng() % 16);
    for (int i = 0; i < len; ++i) input += alphabet[rng() % alphabet.size()];
    const absl::StatusOr<std::vector<std::string>> hosts = ExpandHostlist(input);
    if (hosts.ok()) {
      ++ok;
    } else {
      ASSERT_EQ(hosts.status().code(), absl::StatusCode::kInvalidArgument) << input;
      ++invalid;
    }
    const absl::StatusOr<std::vector<int>> counts = DecodeTasksPerNode(input);
    if (!counts.ok()) {
      ASSERT_EQ(counts.status().code(), absl::StatusCode::kInvalidArgument) << input;
    }
  }
  // Both outcomes were exercised.
  EXPECT_GT(ok, 100);
  EXPECT_GT(invalid, 100);
}

}  // namespace
}  // namespace fabric::slurm
