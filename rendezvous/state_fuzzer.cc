// libFuzzer target: the rendezvous state machine driven by the input's bytes (each
// choice one byte; the first byte picks the node count), with StateDriver's invariants
// checked after every call.
#include <cstdint>
#include <string>

#include "rendezvous/state_driver.h"
#include "tools/fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t pos = 0;
  auto next = [&]() -> uint32_t { return pos < size ? data[pos++] : 0; };
  const int nodes = 2 + static_cast<int>(next() % 4);
  fabric::rendezvous::StateDriver driver(next, nodes);
  while (pos < size) {
    const std::string broken = driver.Step();
    FUZZ_CHECK(broken.empty(), broken);
  }
  return 0;
}
