// fabric-run and fabric-rendezvous link libstdc++ statically (launcher/defs.bzl). GCC 12's libstdc++ then
// brings std::random_device's call to arc4random, which glibc has only since 2.36: the
// binary would refuse to start on glibc 2.34/2.35 (Ubuntu 22.04, RHEL 9). Defining the
// function here, from getrandom(2) (glibc 2.25), binds that call to this copy, so the
// binary needs nothing newer than GLIBC_2.35 (checked by tests/portability_test.sh).
#include <sys/random.h>

#include <cerrno>
#include <cstdint>

extern "C" uint32_t arc4random(void) {
  uint32_t value = 0;
  for (;;) {
    ssize_t n = getrandom(&value, sizeof(value), 0);
    if (n == static_cast<ssize_t>(sizeof(value))) return value;
    if (n < 0 && errno != EINTR) return 0x9e3779b9u ^ static_cast<uint32_t>(errno);
  }
}
