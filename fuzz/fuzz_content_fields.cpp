// What content links and the cache read from outside: base64 (HAVE bitmaps, MANIFEST digests,
// CHUNK_DATA bytes) and a partial entry's .meta file. Any bytes either decode to something whose
// own encoding decodes back to the same, or are refused; nothing else happens.
//
// The first byte picks the parser; for a bitmap the next two give its chunk count.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "../src/content/cache_meta.hpp"
#include "check.hpp"
#include "chorus/content/chunking.hpp"
#include "chorus/content/have_bitmap.hpp"

using namespace chorus::content;

namespace {

void base64_round_trip(std::string_view text) {
  if (auto bytes = from_base64(text)) {
    CHORUS_FUZZ_CHECK(from_base64(to_base64(*bytes)) == bytes, "decoded base64 re-encodes to the same bytes");
  }
}

void bitmap_round_trip(std::uint64_t chunks, std::string_view text) {
  if (auto bits = decode_bitmap(text, chunks)) {
    CHORUS_FUZZ_CHECK(bits->size() == chunks, "a bitmap has exactly the chunks asked for");
    CHORUS_FUZZ_CHECK(decode_bitmap(encode_bitmap(*bits), chunks) == bits, "a bitmap re-encodes to the same bits");
  }
}

void digests_round_trip(std::string_view text) {
  if (auto digests = decode_digests(text)) {
    CHORUS_FUZZ_CHECK(decode_digests(encode_digests(*digests)) == digests, "digests re-encode to the same");
  }
}

void meta_round_trip(std::span<const std::uint8_t> bytes) {
  if (auto meta = detail::decode_meta(bytes)) {
    CHORUS_FUZZ_CHECK(meta->digests.size() == chunk_count(meta->size), "a meta file's digests match its size");
    CHORUS_FUZZ_CHECK(meta->held.size() == meta->digests.size(), "a meta file has a bit per chunk");
    const auto again = detail::decode_meta(detail::encode_meta(*meta));
    CHORUS_FUZZ_CHECK(again && again->size == meta->size && again->digests == meta->digests &&
                          again->held == meta->held,
                      "a meta file re-encodes to the same");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 3, size - 3);
  switch (data[0] % 4) {
    case 0: base64_round_trip(text); break;
    case 1: bitmap_round_trip(static_cast<std::uint64_t>(data[1]) << 8 | data[2], text); break;
    case 2: digests_round_trip(text); break;
    case 3: meta_round_trip(std::span(data + 1, size - 1)); break;
  }
  return 0;
}
