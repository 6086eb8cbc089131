#include "chorus/node/queue_list.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include "chorus/node/playback_reports.hpp"
#include "chorus/protocol/inert_text.hpp"

namespace chorus::node {

namespace json = boost::json;
using protocol::inert;

namespace {

std::string_view switch_name(cli::Switch mode) {
  switch (mode) {
    case cli::Switch::off: return "off";
    case cli::Switch::on: return "on";
    case cli::Switch::oneshot: return "oneshot";
  }
  return "off";
}

std::string label(const protocol::CatalogEntry& e) {
  if (e.title.empty()) return inert(e.name);
  if (e.artist.empty()) return inert(e.title);
  return inert(e.artist) + " - " + inert(e.title) + "  (" + inert(e.name) + ")";
}

std::string modes_text(const control::PlayModes& modes) {
  return fmt::format("random {}, repeat {}, single {}, consume {}", modes.random ? "on" : "off",
                     modes.repeat ? "on" : "off", switch_name(modes.single), switch_name(modes.consume));
}

}  // namespace

std::string queue_text(const control::QueueView& queue, std::optional<std::uint64_t> current) {
  std::string text;
  for (std::size_t i = 0; i < queue.items.size(); ++i) {
    const auto& item = queue.items[i];
    text += fmt::format("{} {:>5}  id {:<6} {:>9}  {}\n", item.id == current ? '>' : ' ', i + 1, item.id,
                        format_frames(item.track.frames), label(item.track));
  }
  if (queue.items.empty()) text += "the queue is empty\n";
  text += fmt::format("{} items, version {}; {}", queue.items.size(), queue.version, modes_text(queue.modes));
  return text;
}

std::string queue_json(const control::QueueView& queue, std::optional<std::uint64_t> current) {
  json::array items;
  for (std::size_t i = 0; i < queue.items.size(); ++i) {
    const auto& item = queue.items[i];
    const auto& t = item.track;
    items.push_back(json::object{{"position", i + 1},     {"id", item.id},         {"name", t.name},
                                 {"title", t.title},      {"artist", t.artist},    {"album", t.album},
                                 {"frames", t.frames},    {"duration_ms", t.frames / 48},
                                 {"hash", t.hash},        {"current", item.id == current}});
  }
  json::value current_id = nullptr;
  if (current) current_id = *current;
  return json::serialize(json::object{
      {"items", std::move(items)},
      {"version", queue.version},
      {"current", current_id},
      {"modes", json::object{{"random", queue.modes.random},
                             {"repeat", queue.modes.repeat},
                             {"single", switch_name(queue.modes.single)},
                             {"consume", switch_name(queue.modes.consume)}}}});
}

}  // namespace chorus::node
