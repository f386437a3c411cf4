// PyTorch's c10d TCPStore (LibTorch C++), the store the workers use:
// set/get/add/wait from one client, then a 32-party barrier with 32 clients.
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "bench/rendezvous/bench_util.h"

namespace fabric {
namespace bench {
namespace {

int Main(int n) {
  c10d::TCPStoreOptions so;
  so.port = 0;
  so.isServer = true;
  so.waitWorkers = false;
  auto server = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", so);
  c10d::TCPStoreOptions co;
  co.port = server->getPort();
  co.isServer = false;
  co.waitWorkers = false;
  auto store = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", co);
  const std::vector<uint8_t> value(32, 'v');
  store->set("present", value);

  std::printf("| operation (1 client, sequential) | mean us | p50 us | p99 us |\n");
  std::printf("|---|---:|---:|---:|\n");
  PrintRow("TCPStore set",
           Measure(n, n / 10, [&](int i) { store->set("k" + std::to_string(i), value); }));
  PrintRow("TCPStore get (key present)", Measure(n, n / 10, [&](int) { store->get("present"); }));
  PrintRow("TCPStore add", Measure(n, n / 10, [&](int) { store->add("ctr", 1); }));
  PrintRow("TCPStore wait (key present)",
           Measure(n, n / 10, [&](int) { store->wait({"present"}); }));

  constexpr int kParties = 32;
  const int rounds = std::max(10, n / 50);
  std::vector<c10::intrusive_ptr<c10d::TCPStore>> clients;
  for (int p = 0; p < kParties; ++p) {
    clients.push_back(c10::make_intrusive<c10d::TCPStore>("127.0.0.1", co));
  }
  std::vector<double> per_barrier;
  for (int r = 0; r < rounds; ++r) {
    const std::string arrived = "barrier/" + std::to_string(r) + "/arrived";
    const std::string done = "barrier/" + std::to_string(r) + "/done";
    StartGate gate;
    std::vector<std::thread> threads;
    for (int p = 0; p < kParties; ++p) {
      threads.emplace_back([&, p] {
        gate.Arrive();
        if (clients[p]->add(arrived, 1) == kParties) clients[p]->set(done, {'1'});
        clients[p]->wait({done});
      });
    }
    gate.WaitFor(kParties);
    auto t0 = std::chrono::steady_clock::now();
    gate.Open();
    for (auto& t : threads) t.join();
    per_barrier.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(per_barrier.begin(), per_barrier.end());
  double mean = 0;
  for (double u : per_barrier) mean += u;
  Stats b{mean / per_barrier.size(), per_barrier[per_barrier.size() / 2],
          per_barrier[std::min(per_barrier.size() - 1, per_barrier.size() * 99 / 100)]};
  PrintRow("TCPStore 32-party barrier (add + wait, 32 connections)", b);
  return 0;
}

}  // namespace
}  // namespace bench
}  // namespace fabric

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  return fabric::bench::Main(n);
}
