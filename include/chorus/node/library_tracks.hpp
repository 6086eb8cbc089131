#pragma once
// LibraryTracks: this node's library as the content service sees it (content::LocalTracks): the
// files it can serve, their chunk digests, and its catalog entries. Reads the library's current
// snapshot on each call (thread-safe).

#include "chorus/content/content_service.hpp"
#include "chorus/playback/library.hpp"

namespace chorus::node {

class LibraryTracks final : public content::LocalTracks {
 public:
  explicit LibraryTracks(const playback::Library& library) : library_(library) {}

  std::optional<File> file(const std::string& hash) const override;
  std::optional<std::vector<content::Digest>> manifest(const std::string& hash) const override;
  std::vector<protocol::CatalogEntry> catalog() const override;

 private:
  const playback::Library& library_;
};

/// A catalog entry as the playback rules list tracks.
playback::TrackInfo track_info(const protocol::CatalogEntry& entry, std::size_t index);

}  // namespace chorus::node
