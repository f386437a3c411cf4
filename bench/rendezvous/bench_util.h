// Timing helpers for the rendezvous benchmarks.
#ifndef FABRIC_BENCH_RENDEZVOUS_BENCH_UTIL_H_
#define FABRIC_BENCH_RENDEZVOUS_BENCH_UTIL_H_

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace fabric {
namespace bench {

struct Stats {
  double mean_us = 0, p50_us = 0, p99_us = 0;
};

// Runs `op` `warmup` times untimed, then `n` times timed one by one.
template <typename Fn>
Stats Measure(int n, int warmup, Fn op) {
  for (int i = 0; i < warmup; ++i) op(i);
  std::vector<double> us;
  us.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    op(warmup + i);
    auto t1 = std::chrono::steady_clock::now();
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  Stats s;
  for (double u : us) s.mean_us += u;
  s.mean_us /= n;
  std::sort(us.begin(), us.end());
  s.p50_us = us[n / 2];
  s.p99_us = us[std::min(n - 1, n * 99 / 100)];
  return s;
}

inline Stats Summarize(std::vector<double> us) {
  Stats s;
  const int n = static_cast<int>(us.size());
  for (double u : us) s.mean_us += u;
  s.mean_us /= n;
  std::sort(us.begin(), us.end());
  s.p50_us = us[n / 2];
  s.p99_us = us[std::min(n - 1, n * 99 / 100)];
  return s;
}

// Runs every op of `ops` once per iteration, in turn, `warmup` untimed iterations then
// `n` timed ones, so that each op is sampled under the same machine load (on a shared,
// busy host a load change between two back-to-back series skews their ratio).
inline std::vector<Stats> MeasureInterleaved(int n, int warmup,
                                             const std::vector<std::function<void(int)>>& ops) {
  std::vector<std::vector<double>> us(ops.size());
  for (int i = 0; i < warmup + n; ++i) {
    for (size_t k = 0; k < ops.size(); ++k) {
      auto t0 = std::chrono::steady_clock::now();
      ops[k](i);
      auto t1 = std::chrono::steady_clock::now();
      if (i >= warmup) us[k].push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
  }
  std::vector<Stats> out;
  for (auto& v : us) out.push_back(Summarize(std::move(v)));
  return out;
}

// Blocks threads (without spinning) until Open().
class StartGate {
 public:
  void Arrive() {
    std::unique_lock<std::mutex> lock(mu_);
    ++arrived_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void WaitFor(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return arrived_ >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  bool open_ = false;
};

inline void PrintRow(const std::string& what, const Stats& s) {
  std::printf("| %s | %.1f | %.1f | %.1f |\n", what.c_str(), s.mean_us, s.p50_us, s.p99_us);
  std::fflush(stdout);
}

}  // namespace bench
}  // namespace fabric

#endif  // FABRIC_BENCH_RENDEZVOUS_BENCH_UTIL_H_
