// FUZZ_CHECK for fuzz targets: a broken invariant prints what broke and aborts (libFuzzer
// saves the input; the corpus test fails on it).
#ifndef FABRIC_TOOLS_FUZZ_CHECK_H_
#define FABRIC_TOOLS_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, what)                                                              \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: invariant broken: %s (%s)\n", __FILE__, __LINE__, #cond, \
                   std::string(what).c_str());                                              \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

#endif  // FABRIC_TOOLS_FUZZ_CHECK_H_
