#include "chorus/node/library_tracks.hpp"

#include "chorus/playback/format.hpp"

namespace chorus::node {

std::optional<content::LocalTracks::File> LibraryTracks::file(const std::string& hash) const {
  auto track = library_.find_by_hash(hash);
  if (!track || !track->playable()) return std::nullopt;
  return File{track->path, track->file_size};
}

std::optional<std::vector<content::Digest>> LibraryTracks::manifest(const std::string& hash) const {
  return library_.manifest(hash);
}

std::vector<protocol::CatalogEntry> LibraryTracks::catalog() const {
  std::vector<protocol::CatalogEntry> entries;
  // Held for the whole loop: a range-for over `*library_.snapshot()` would drop the temporary
  // pointer at once, and a rescan replacing the snapshot meanwhile freed the vector being read
  // (this runs on the content thread; seen as a node crashing in memcpy).
  const auto tracks = library_.snapshot();
  for (const auto& t : *tracks) {
    // Only what every node can fetch: playable, with a chunk root, within what a manifest holds.
    if (!t.playable() || t.chunk_root.empty() || content::chunk_count(t.file_size) > content::kMaxChunks) continue;
    entries.push_back({t.content_hash, t.chunk_root, t.file_name, t.title, t.artist, t.album, t.format, t.frames,
                       t.file_size});
  }
  return entries;
}

playback::TrackInfo track_info(const protocol::CatalogEntry& entry, std::size_t index) {
  playback::TrackInfo t;
  t.index = index;
  t.file_name = entry.name;
  t.format = entry.format;
  t.frames = entry.frames;
  t.duration_us = entry.frames * 1'000'000 / playback::kOutputRate;
  t.file_size = entry.size;
  t.content_hash = entry.hash;
  t.chunk_root = entry.root;
  t.title = entry.title;
  t.artist = entry.artist;
  t.album = entry.album;
  return t;
}

}  // namespace chorus::node
