#pragma once
// What the server sends the web page over its WebSocket, as JSON text (docs/web.md). Pure: the
// time a view is sent at is passed in.
//
//   view     rooms, now playing (with the position at the send time), the queue and its modes,
//            leader and epoch: pushed on connect and after each change
//   library  one page of the library's tracks matching a search, answering a LibraryQuery
//   reply    a command's outcome, with the command's id
//   error    a message that could not be run, with its id when it had one

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "chorus/content/catalog.hpp"
#include "chorus/control/control_port.hpp"
#include "chorus/web/client_message.hpp"

namespace chorus::web {

/// Library tracks per page answered to a search.
inline constexpr std::size_t kLibraryPageSize = 50;

/// The frame audible at `now_us` by `now`'s anchor, clamped to the track (control_port.hpp).
std::int64_t frame_at(const control::NowPlaying& now, std::int64_t now_us);

/// The view of `view` as sent at `now_us` (this node's steady clock, chorus::now_us()).
std::string view_message(const control::ClusterView& view, std::int64_t now_us);

/// Page `query.page` of the catalog's entries matching `query.query`; a page past the last is
/// answered empty, with the number of pages.
std::string library_message(const content::Catalog& catalog, const LibraryQuery& query,
                            std::size_t page_size = kLibraryPageSize);

/// A command's outcome.
std::string reply_message(const boost::json::value& id, const control::Outcome& outcome);

/// A message refused before it ran.
std::string error_message(const boost::json::value& id, std::string_view text);

}  // namespace chorus::web
