#include <catch2/catch.hpp>

#include <cstdint>
#include <numeric>
#include <vector>

#include "chorus/content/chunking.hpp"

using namespace chorus::content;

namespace {

std::vector<std::uint8_t> bytes_of(std::size_t n) {
  std::vector<std::uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(i * 131 + i / 7);
  return out;
}

}  // namespace

TEST_CASE("a file is cut into whole chunks and one shorter last chunk") {
  CHECK(chunk_count(0) == 0);
  CHECK(chunk_count(1) == 1);
  CHECK(chunk_count(kChunkBytes) == 1);
  CHECK(chunk_count(kChunkBytes + 1) == 2);
  CHECK(chunk_length(kChunkBytes + 1, 0) == kChunkBytes);
  CHECK(chunk_length(kChunkBytes + 1, 1) == 1);
  CHECK(chunk_length(kChunkBytes + 1, 2) == 0);
  CHECK(chunk_offset(3) == 3 * kChunkBytes);
}

TEST_CASE("the file hasher gives the same digests however the bytes are split") {
  const auto data = bytes_of(2 * kChunkBytes + 12345);
  FileHasher whole;
  whole.update(data);
  const auto a = whole.finish();

  FileHasher pieces;
  for (std::size_t at = 0; at < data.size(); at += 1000) {
    pieces.update(std::span(data).subspan(at, std::min<std::size_t>(1000, data.size() - at)));
  }
  const auto b = pieces.finish();

  CHECK(a.content_hash == b.content_hash);
  CHECK(a.chunks == b.chunks);
  CHECK(a.root == b.root);
  CHECK(a.size == data.size());
  REQUIRE(a.chunks.size() == 3);
  CHECK(a.chunks[0] == sha256(std::span(data).first(kChunkBytes)));
  CHECK(a.chunks[2] == sha256(std::span(data).subspan(2 * kChunkBytes)));
  CHECK(a.content_hash == to_hex(sha256(data)));
  CHECK(a.root == chunk_root(a.chunks));
}

TEST_CASE("SHA-256 of nothing is the well-known digest") {
  CHECK(to_hex(sha256({})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("digests round-trip through hex and base64, and bad text is refused") {
  const auto d = sha256(bytes_of(10));
  CHECK(digest_from_hex(to_hex(d)) == d);
  CHECK_FALSE(digest_from_hex(to_hex(d).substr(1)));
  CHECK_FALSE(digest_from_hex(std::string(64, 'g')));

  const std::vector<Digest> list{d, sha256(bytes_of(11))};
  CHECK(decode_digests(encode_digests(list)) == list);
  CHECK_FALSE(decode_digests("AAAA"));  // 3 bytes: not a whole digest
  CHECK_FALSE(decode_digests("not base64!"));
  CHECK(from_base64(to_base64(bytes_of(1000))) == bytes_of(1000));
  CHECK_FALSE(from_base64("QUJD=="));  // bad padding
}

TEST_CASE("the chunk at a frame scales the frame's share of the track to the file's chunks") {
  const std::uint64_t size = 10 * kChunkBytes;
  CHECK(chunk_at_frame(size, 1000, 0) == 0);
  CHECK(chunk_at_frame(size, 1000, 500) == 5);
  CHECK(chunk_at_frame(size, 1000, 999) == 9);
  CHECK(chunk_at_frame(size, 1000, 5000) == 9);  // past the end: the last chunk
  CHECK(chunk_at_frame(size, 0, 10) == 0);       // unknown length
  CHECK(chunk_at_frame(0, 1000, 10) == 0);       // empty file
}
