// The queue: add, delete, move (as cli::Commands) and its listings (from the snapshot).
#include <algorithm>

#include <fmt/format.h>

#include "commands.hpp"

namespace chorus::mpd::detail {
namespace {

constexpr long long kMaxPosition = 1 << 30;  // fits cli::Command's int with room

/// An insert position: N (from 0), or +N / -N from the playing item (MPD 0.23: +0 is right after
/// it, -0 right before it). The result counts from 0.
std::variant<std::size_t, Failure> insert_position(std::string_view text, const Context& context) {
  if (text.starts_with('+') || text.starts_with('-')) {
    const auto& now = context.view.now;
    if (now.status == protocol::PlaybackStatus::stopped || !now.position) {
      return Failure{Ack::arg, "No current song"};
    }
    auto offset = parse_unsigned(text.substr(1));
    if (!offset || *offset >= static_cast<unsigned long long>(kMaxPosition)) {
      return Failure{Ack::arg, "Bad position"};
    }
    const long long current = static_cast<long long>(*now.position);
    const long long at = text.front() == '+' ? current + 1 + static_cast<long long>(*offset)
                                             : current - static_cast<long long>(*offset);
    if (at < 0) return Failure{Ack::arg, "Bad position"};
    return static_cast<std::size_t>(at);
  }
  auto absolute = parse_unsigned(text);
  if (!absolute || *absolute >= static_cast<unsigned long long>(kMaxPosition)) {
    return Failure{Ack::arg, "Bad position"};
  }
  return static_cast<std::size_t>(*absolute);
}

Reply add_uri(const Words& words, Context& context, bool single_track) {
  const std::string uri = normal_uri(words[1]);
  const content::Catalog& library = *context.view.library;
  const bool track = is_track(library, uri);
  if (!track && (single_track || !is_directory(library, uri))) {
    return failed(Ack::no_exist, "No such song");
  }
  cli::Command command;
  command.kind = cli::CommandKind::add;
  command.uri = uri;
  if (words.size() == 3) {
    auto position = insert_position(words[2], context);
    if (auto* failure = std::get_if<Failure>(&position)) return failed(failure->code, failure->message);
    command.position = static_cast<int>(std::get<std::size_t>(position) + 1);
  }
  Reply reply = run(std::move(command));
  reply.answer_id = single_track;
  return reply;
}

Reply removal(cli::CommandKind kind) {
  cli::Command command;
  command.kind = kind;
  return run(std::move(command));
}

void write_items(ResponseWriter& out, const control::QueueView& queue, Range range,
                 const TagMask& tags) {
  range.end = std::min(range.end, queue.items.size());
  for (std::size_t i = range.start; i < range.end; ++i) {
    write_song(out, queue.items[i].track, tags, i, queue.items[i].id);
  }
}

}  // namespace

Reply add(const Words& words, Context& context) { return add_uri(words, context, false); }
Reply addid(const Words& words, Context& context) { return add_uri(words, context, true); }

Reply clear(const Words&, Context&) { return removal(cli::CommandKind::clear); }

Reply delete_range(const Words& words, Context& context) {
  const std::size_t length = context.view.queue->items.size();
  auto range = parse_range(words[1], length);
  if (!range || range->end > length || range->start >= range->end) {
    return failed(Ack::arg, "Bad song index");
  }
  Reply reply = removal(cli::CommandKind::remove);
  reply.run.front().track = static_cast<int>(range->start + 1);
  reply.run.front().count = static_cast<int>(range->end - range->start);
  return reply;
}

Reply deleteid(const Words& words, Context&) {
  auto id = parse_unsigned(words[1]);
  if (!id) return failed(Ack::arg, "Integer expected: " + words[1]);
  Reply reply = removal(cli::CommandKind::remove);
  reply.run.front().item_id = *id;
  return reply;
}

Reply move(const Words& words, Context& context) {
  const std::size_t length = context.view.queue->items.size();
  auto range = parse_range(words[1], length);
  if (!range || range->end > length || range->start >= range->end) {
    return failed(Ack::arg, "Bad song index");
  }
  auto to = parse_unsigned(words[2]);
  if (!to || *to >= static_cast<unsigned long long>(kMaxPosition)) {
    return failed(Ack::arg, "Bad song index");
  }
  Reply reply = removal(cli::CommandKind::move);
  reply.run.front().track = static_cast<int>(range->start + 1);
  reply.run.front().count = static_cast<int>(range->end - range->start);
  reply.run.front().to = static_cast<int>(*to + 1);
  return reply;
}

Reply moveid(const Words& words, Context&) {
  auto id = parse_unsigned(words[1]);
  if (!id) return failed(Ack::arg, "Integer expected: " + words[1]);
  auto to = parse_unsigned(words[2]);
  if (!to || *to >= static_cast<unsigned long long>(kMaxPosition)) {
    return failed(Ack::arg, "Bad song index");
  }
  Reply reply = removal(cli::CommandKind::move);
  reply.run.front().item_id = *id;
  reply.run.front().to = static_cast<int>(*to + 1);
  return reply;
}

Reply playlistinfo(const Words& words, Context& context) {
  const control::QueueView& queue = *context.view.queue;
  Range range{0, queue.items.size()};
  if (words.size() == 2 && words[1] != "-1") {
    auto asked = parse_range(words[1], queue.items.size());
    // MPD: a single position past the end is an error, a range is cut to the queue
    if (!asked || asked->start >= queue.items.size()) return failed(Ack::arg, "Bad song index");
    range = *asked;
  }
  Reply reply;
  write_items(reply.body, queue, range, context.tags);
  return reply;
}

Reply playlistid(const Words& words, Context& context) {
  const control::QueueView& queue = *context.view.queue;
  Reply reply;
  if (words.size() == 1) {
    write_items(reply.body, queue, {0, queue.items.size()}, context.tags);
    return reply;
  }
  auto id = parse_unsigned(words[1]);
  if (!id) return failed(Ack::arg, "Integer expected: " + words[1]);
  auto it = std::find_if(queue.items.begin(), queue.items.end(),
                         [&](const control::QueueItem& item) { return item.id == *id; });
  if (it == queue.items.end()) return failed(Ack::no_exist, "No such song");
  const auto position = static_cast<std::size_t>(it - queue.items.begin());
  write_items(reply.body, queue, {position, position + 1}, context.tags);
  return reply;
}

namespace {

/// plchanges: the snapshot does not say which items changed since a version, so every item (in
/// the range) counts as changed unless the version is the current one.
std::variant<Range, Failure> changed_range(const Words& words, const control::QueueView& queue) {
  auto version = parse_unsigned(words[1]);
  if (!version) return Failure{Ack::arg, "Integer expected: " + words[1]};
  if (*version == queue.version) return Range{0, 0};
  Range range{0, queue.items.size()};
  if (words.size() == 3) {
    auto asked = parse_range(words[2], queue.items.size());
    if (!asked) return Failure{Ack::arg, "Bad range"};
    range = *asked;
  }
  return range;
}

}  // namespace

Reply plchanges(const Words& words, Context& context) {
  const control::QueueView& queue = *context.view.queue;
  auto range = changed_range(words, queue);
  if (auto* failure = std::get_if<Failure>(&range)) return failed(failure->code, failure->message);
  Reply reply;
  write_items(reply.body, queue, std::get<Range>(range), context.tags);
  return reply;
}

Reply plchangesposid(const Words& words, Context& context) {
  const control::QueueView& queue = *context.view.queue;
  auto changed = changed_range(words, queue);
  if (auto* failure = std::get_if<Failure>(&changed)) return failed(failure->code, failure->message);
  Range range = std::get<Range>(changed);
  range.end = std::min(range.end, queue.items.size());
  Reply reply;
  for (std::size_t i = range.start; i < range.end; ++i) {
    reply.body.field("cpos", static_cast<std::uint64_t>(i));
    reply.body.field("Id", queue.items[i].id);
  }
  return reply;
}

Reply playlist(const Words&, Context& context) {
  const control::QueueView& queue = *context.view.queue;
  Reply reply;
  for (std::size_t i = 0; i < queue.items.size(); ++i) {
    reply.body.field(fmt::format("{}:file", i), queue.items[i].track.name);
  }
  return reply;
}

}  // namespace chorus::mpd::detail
