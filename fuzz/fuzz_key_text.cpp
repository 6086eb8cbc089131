// The key file's text (security::parse_key_text): any bytes either parse to a key whose own text
// parses back to the same key, or are refused with a reason.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "check.hpp"
#include "chorus/security/cluster_key.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace chorus::security;
  const auto parsed = parse_key_text(std::string_view(reinterpret_cast<const char*>(data), size));
  if (const auto* key = std::get_if<ClusterKey>(&parsed)) {
    const auto again = parse_key_text(key_text(*key));
    CHORUS_FUZZ_CHECK(std::holds_alternative<ClusterKey>(again) && std::get<ClusterKey>(again) == *key,
                      "a parsed key's own text parses back to it");
  } else {
    CHORUS_FUZZ_CHECK(!std::get<KeyTextError>(parsed).message.empty(), "a refusal says why");
  }
  return 0;
}
