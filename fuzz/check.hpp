#pragma once
// CHORUS_FUZZ_CHECK(condition, what): a property the fuzz targets check on every input. A
// failure prints what was expected and aborts, which libFuzzer reports as a crash and saves the
// input. Unlike assert() it is never compiled out.

#include <cstdio>
#include <cstdlib>

#define CHORUS_FUZZ_CHECK(condition, what)                                                    \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "%s:%d: property violated: %s (%s)\n", __FILE__, __LINE__, what, \
                   #condition);                                                              \
      std::abort();                                                                           \
    }                                                                                         \
  } while (false)
