#pragma once
// Chunking: how a track's file is cut for transfer and how each piece is vouched for. Pure: bytes
// in, digests out; no files, no sockets.
//
// A file of `size` bytes is cut into chunks of kChunkBytes (the last one shorter). Each chunk has
// a SHA-256 digest; the file's chunk root is the SHA-256 of all chunk digests concatenated in
// order. The cluster's catalog and every PLAY carry the root beside the whole-file hash, so a
// manifest (the digest list) from any peer is checked against the root before one of its digests
// is trusted, and each chunk is checked against its digest before it is written or decoded. The
// whole-file hash is checked once the last chunk is in.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace chorus::content {

/// Bytes per chunk. Big enough that a 5-minute FLAC is ~120 requests, small enough that one
/// chunk is a fraction of a second of a link's time and a bounded piece of memory.
inline constexpr std::uint64_t kChunkBytes = 256 * 1024;
/// Most chunks a shared file may have (4 GiB): its manifest fits one frame.
inline constexpr std::uint64_t kMaxChunks = 16384;

using Digest = std::array<std::uint8_t, 32>;

/// Chunks of a file of `size` bytes (0 for an empty file).
std::uint64_t chunk_count(std::uint64_t size);
/// Bytes of chunk `chunk` of a file of `size` bytes (0 past the end).
std::uint64_t chunk_length(std::uint64_t size, std::uint64_t chunk);
/// Where chunk `chunk` starts.
constexpr std::uint64_t chunk_offset(std::uint64_t chunk) { return chunk * kChunkBytes; }

/// The chunk that probably holds frame `frame` of a track of `frames` frames in a file of `size`
/// bytes, assuming bytes spread evenly over time: where a reader starting there reads first (its
/// own reads then say exactly which chunks it needs).
std::uint64_t chunk_at_frame(std::uint64_t size, std::int64_t frames, std::int64_t frame);

/// SHA-256 (OpenSSL EVP).
Digest sha256(std::span<const std::uint8_t> bytes);
/// The chunk root: SHA-256 of the digests concatenated.
Digest chunk_root(std::span<const Digest> digests);

std::string to_hex(const Digest& digest);
/// 64 hex digits (either case) to a digest; nullopt for anything else.
std::optional<Digest> digest_from_hex(std::string_view hex);

/// Hashes a file as it streams past: its whole-file SHA-256 and its chunk digests, in one pass.
class FileHasher {
 public:
  FileHasher();
  ~FileHasher();
  FileHasher(const FileHasher&) = delete;
  FileHasher& operator=(const FileHasher&) = delete;

  /// The next bytes of the file, in order, in pieces of any size.
  void update(std::span<const std::uint8_t> bytes);

  struct Result {
    std::string content_hash;     ///< hex SHA-256 of all bytes
    std::vector<Digest> chunks;   ///< one per chunk
    Digest root{};                ///< chunk_root(chunks)
    std::uint64_t size = 0;
  };
  /// The digests of everything fed so far. Once only.
  Result finish();

 private:
  struct State;
  State* state_;
};

/// The manifest's wire form: digests concatenated, base64 (libsodium, original variant).
std::string encode_digests(std::span<const Digest> digests);
/// Its inverse; nullopt unless the text is valid base64 of a whole number of digests.
std::optional<std::vector<Digest>> decode_digests(std::string_view text);

/// Base64 (original variant, padded) of any bytes, and back; nullopt for invalid text.
std::string to_base64(std::span<const std::uint8_t> bytes);
std::optional<std::vector<std::uint8_t>> from_base64(std::string_view text);

}  // namespace chorus::content
