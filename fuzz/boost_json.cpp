// Boost.JSON's implementation, compiled here with the fuzzing instrumentation instead of linking
// the prebuilt (uninstrumented) libboost_json: the fuzzer then sees coverage inside the parser.
#include <boost/json/src.hpp>
