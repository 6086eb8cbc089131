#pragma once
// The wire form of "which chunks I hold" (HAVE): bit i of byte i / 8, least significant first,
// base64. Pure.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chorus::content {

std::string encode_bitmap(const std::vector<bool>& held);
/// `chunks` bits from `text`; nullopt unless it is valid base64 of exactly ⌈chunks / 8⌉ bytes.
std::optional<std::vector<bool>> decode_bitmap(std::string_view text, std::uint64_t chunks);

}  // namespace chorus::content
