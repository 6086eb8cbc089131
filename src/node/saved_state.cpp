#include "chorus/node/saved_state.hpp"

#include <algorithm>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include "chorus/protocol/codec.hpp"

namespace chorus::node {

namespace json = boost::json;

namespace {

/// The sender named in the saved messages: they never travel, but the protocol wants one.
constexpr std::string_view kSavedFrom = "saved";

std::string header_text(const std::string& cluster) {
  return fmt::format(R"({{"format":{},"cluster":{})", kSavedStateFormat, json::serialize(json::string(cluster)));
}

/// The document's object if it is one of this format and cluster; nullptr with the reason.
const json::object* own_document(const json::value& document, const std::string& cluster, std::string& problem) {
  const json::object* object = document.if_object();
  if (object == nullptr) {
    problem = "not a JSON object";
    return nullptr;
  }
  const json::value* format = object->if_contains("format");
  if (format == nullptr || !format->is_int64() || format->get_int64() != kSavedStateFormat) {
    problem = fmt::format("not of format {} (written by another version?)", kSavedStateFormat);
    return nullptr;
  }
  const json::value* name = object->if_contains("cluster");
  if (name == nullptr || !name->is_string()) {
    problem = "names no cluster";
    return nullptr;
  }
  if (name->get_string() != cluster) {
    problem = fmt::format("is the state of another cluster ({})", json::serialize(*name));
    return nullptr;
  }
  return object;
}

/// `text` parsed, or null with the reason.
json::value parse(std::string_view text, std::string& problem) {
  boost::system::error_code ec;
  json::value document = json::parse(text, ec);
  if (ec) {
    problem = "not JSON: " + ec.message();
    return nullptr;
  }
  return document;
}

/// One saved message, read by the protocol's decoder; nullopt with the reason.
template <class M>
std::optional<M> saved_message(const json::value& value, std::string_view what, std::string& problem) {
  auto decoded = protocol::decode(json::serialize(value));
  if (auto* error = std::get_if<protocol::DecodeError>(&decoded)) {
    problem = fmt::format("{} refused: {}", what, error->detail);
    return std::nullopt;
  }
  auto* message = std::get_if<M>(&std::get<protocol::Message>(decoded));
  if (message == nullptr) {
    problem = fmt::format("{} is another message", what);
    return std::nullopt;
  }
  return std::move(*message);
}

}  // namespace

std::string encode_saved_queue(const std::string& cluster, const SavedQueueHeader& header,
                               const std::vector<control::QueueItem>& items) {
  std::vector<protocol::QueueEntry> entries;
  entries.reserve(items.size());
  for (const auto& item : items) entries.push_back({item.id, item.track});
  protocol::QueueSnapshot page{.from = std::string(kSavedFrom), .epoch = 0, .version = header.version,
                               .next_id = header.next_id, .library = header.library, .modes = header.modes,
                               .total = entries.size(), .offset = 0, .items = {}};
  std::string text = header_text(cluster) + R"(,"pages":[)";
  auto pages = queue_pages(std::move(entries));
  if (pages.empty()) pages.emplace_back();
  for (auto& items_of_page : pages) {
    if (page.offset != 0) text += ',';
    const auto count = items_of_page.size();
    page.items = std::move(items_of_page);
    text += protocol::encode(page);
    page.offset += count;
  }
  return text + "]}\n";
}

Loaded<PlayQueue> decode_saved_queue(std::string_view text, const std::string& cluster) {
  Loaded<PlayQueue> loaded;
  if (text.size() > kMaxSavedQueueBytes) {
    loaded.problem = "larger than any queue can be";
    return loaded;
  }
  const json::value document = parse(text, loaded.problem);
  if (!loaded.problem.empty()) return loaded;
  const json::object* object = own_document(document, cluster, loaded.problem);
  if (object == nullptr) return loaded;
  const json::value* pages = object->if_contains("pages");
  if (pages == nullptr || !pages->is_array() || pages->get_array().empty()) {
    loaded.problem = "has no queue pages";
    return loaded;
  }
  QueueAssembly assembly;
  const auto& all = pages->get_array();
  for (std::size_t i = 0; i < all.size(); ++i) {
    auto page = saved_message<protocol::QueueSnapshot>(all[i], fmt::format("queue page {}", i + 1), loaded.problem);
    if (!page) return loaded;
    if (i == 0 && page->offset != 0) break;
    auto queue = assembly.take(*page);
    if (assembly.broken()) break;
    if (queue) {
      if (i + 1 != all.size()) break;  // pages beyond the whole queue
      loaded.value = std::move(queue);
      return loaded;
    }
  }
  loaded.problem = "its pages do not make one valid queue";
  return loaded;
}

std::string encode_saved_playback(const std::string& cluster, const SavedPlayback& saved) {
  const protocol::StateSyncResponse state{std::string(kSavedFrom), saved.state};
  return fmt::format(R"({},"epoch":{},"state":{}}})", header_text(cluster), saved.highest_epoch,
                     protocol::encode(state)) + "\n";
}

Loaded<SavedPlayback> decode_saved_playback(std::string_view text, const std::string& cluster) {
  Loaded<SavedPlayback> loaded;
  if (text.size() > kMaxSavedPlaybackBytes) {
    loaded.problem = "larger than a playback state can be";
    return loaded;
  }
  const json::value document = parse(text, loaded.problem);
  if (!loaded.problem.empty()) return loaded;
  const json::object* object = own_document(document, cluster, loaded.problem);
  if (object == nullptr) return loaded;
  const json::value* epoch = object->if_contains("epoch");
  const json::value* state = object->if_contains("state");
  if (epoch == nullptr || !(epoch->is_uint64() || (epoch->is_int64() && epoch->get_int64() >= 0))) {
    loaded.problem = "needs an epoch >= 0";
    return loaded;
  }
  if (state == nullptr) {
    loaded.problem = "has no state";
    return loaded;
  }
  auto response = saved_message<protocol::StateSyncResponse>(*state, "the state", loaded.problem);
  if (!response) return loaded;
  const auto highest = epoch->is_uint64() ? epoch->get_uint64() : static_cast<std::uint64_t>(epoch->get_int64());
  if (response->state.epoch > highest) {
    loaded.problem = "its state is of an epoch above the highest it saw";
    return loaded;
  }
  loaded.value = SavedPlayback{highest, response->state};
  return loaded;
}

playback::PlaybackState state_to_save(const playback::PlaybackState& state, std::int64_t frame) {
  auto saved = state;
  saved.anchor_us = 0;
  saved.anchor_frame = state.track ? std::clamp<std::int64_t>(frame, 0, std::max<std::int64_t>(state.track->frames - 1, 0)) : 0;
  return saved;
}

}  // namespace chorus::node
