#pragma once
// ChunkSource: what this node holds of a file, whatever holds it — its library (read from the
// file, each chunk checked against the index's digest as it is read, so a file changed on disk
// since it was indexed is refused rather than served) or the cache (complete or partial). For
// the content service's thread.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "chorus/content/content_cache.hpp"
#include "chorus/content/content_service.hpp"

namespace chorus::content {

class ChunkSource {
 public:
  ChunkSource(const LocalTracks& local, ContentCache& cache) : local_(local), cache_(cache) {}

  struct ManifestOf {
    std::uint64_t size = 0;
    std::vector<Digest> digests;
  };
  struct Read {
    std::optional<std::vector<std::uint8_t>> bytes;
    std::string problem;  ///< why not, when it should have been there
  };

  /// Whether the whole file is here (library or complete cache entry).
  bool holds_whole(const std::string& hash) const;
  /// Which chunks are here; nullopt when none are.
  std::optional<std::vector<bool>> held(const std::string& hash) const;
  std::optional<ManifestOf> manifest(const std::string& hash);
  Read read(const std::string& hash, std::uint64_t chunk);

 private:
  std::optional<std::uint64_t> whole_size(const std::string& hash) const;

  const LocalTracks& local_;
  ContentCache& cache_;
  /// Digests of complete cache entries, computed once when first asked for.
  std::map<std::string, ManifestOf> cached_manifests_;
};

}  // namespace chorus::content
