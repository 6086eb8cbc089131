#include "chorus/content/chunking.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <stdexcept>

#include "../security/sodium_ready.hpp"

namespace chorus::content {

namespace {

/// An EVP SHA-256 context; construction failing (out of memory) throws.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
      EVP_MD_CTX_free(ctx_);
      throw std::runtime_error("SHA-256 unavailable (OpenSSL)");
    }
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::span<const std::uint8_t> bytes) {
    if (!bytes.empty()) EVP_DigestUpdate(ctx_, bytes.data(), bytes.size());
  }
  Digest finish() {
    Digest out{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, out.data(), &len);
    EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);  // ready for the next chunk
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::uint64_t chunk_count(std::uint64_t size) { return (size + kChunkBytes - 1) / kChunkBytes; }

std::uint64_t chunk_length(std::uint64_t size, std::uint64_t chunk) {
  const auto start = chunk_offset(chunk);
  if (chunk >= chunk_count(size)) return 0;
  return std::min(kChunkBytes, size - start);
}

std::uint64_t chunk_at_frame(std::uint64_t size, std::int64_t frames, std::int64_t frame) {
  const auto chunks = chunk_count(size);
  if (chunks == 0 || frames <= 0 || frame <= 0) return 0;
  const auto ratio = static_cast<double>(std::min(frame, frames)) / static_cast<double>(frames);
  return std::min<std::uint64_t>(chunks - 1, static_cast<std::uint64_t>(ratio * static_cast<double>(chunks)));
}

Digest sha256(std::span<const std::uint8_t> bytes) {
  Sha256 sha;
  sha.update(bytes);
  return sha.finish();
}

Digest chunk_root(std::span<const Digest> digests) {
  Sha256 sha;
  for (const auto& d : digests) sha.update(d);
  return sha.finish();
}

std::string to_hex(const Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(64, '0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    out[2 * i] = kDigits[digest[i] >> 4];
    out[2 * i + 1] = kDigits[digest[i] & 15];
  }
  return out;
}

std::optional<Digest> digest_from_hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Digest out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

struct FileHasher::State {
  Sha256 whole;
  Sha256 chunk;
  std::uint64_t in_chunk = 0;
  std::uint64_t size = 0;
  std::vector<Digest> chunks;
};

FileHasher::FileHasher() : state_(new State) {}
FileHasher::~FileHasher() { delete state_; }

void FileHasher::update(std::span<const std::uint8_t> bytes) {
  state_->whole.update(bytes);
  state_->size += bytes.size();
  while (!bytes.empty()) {
    const auto take = std::min<std::uint64_t>(bytes.size(), kChunkBytes - state_->in_chunk);
    state_->chunk.update(bytes.first(take));
    state_->in_chunk += take;
    bytes = bytes.subspan(take);
    if (state_->in_chunk == kChunkBytes) {
      state_->chunks.push_back(state_->chunk.finish());
      state_->in_chunk = 0;
    }
  }
}

FileHasher::Result FileHasher::finish() {
  Result result;
  if (state_->in_chunk > 0) state_->chunks.push_back(state_->chunk.finish());
  result.content_hash = to_hex(state_->whole.finish());
  result.chunks = std::move(state_->chunks);
  result.root = chunk_root(result.chunks);
  result.size = state_->size;
  return result;
}

std::string to_base64(std::span<const std::uint8_t> bytes) {
  security::ensure_sodium();
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::optional<std::vector<std::uint8_t>> from_base64(std::string_view text) {
  security::ensure_sodium();
  std::vector<std::uint8_t> out(text.size() / 4 * 3 + 3);
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::string encode_digests(std::span<const Digest> digests) {
  std::vector<std::uint8_t> bytes;
  bytes.reserve(digests.size() * sizeof(Digest));
  for (const auto& d : digests) bytes.insert(bytes.end(), d.begin(), d.end());
  return to_base64(bytes);
}

std::optional<std::vector<Digest>> decode_digests(std::string_view text) {
  auto bytes = from_base64(text);
  if (!bytes || bytes->size() % sizeof(Digest) != 0) return std::nullopt;
  std::vector<Digest> out(bytes->size() / sizeof(Digest));
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::copy_n(bytes->begin() + static_cast<std::ptrdiff_t>(i * sizeof(Digest)), sizeof(Digest), out[i].begin());
  }
  return out;
}

}  // namespace chorus::content
