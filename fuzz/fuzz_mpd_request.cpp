// The MPD protocol server's pure parts on arbitrary client bytes: mpd::tokenize on each line and
// mpd::Session fed the lines in order (src/mpd), as a client on the LAN can send them.
//
// The input's first byte picks how the commands a session asks for turn out (ok, or refused for
// each reason in turn); the rest is the byte stream, cut into lines at '\n'.
//
// Checked, beyond "never crashes, throws or leaks":
//   tokenize: the words of a line, each quoted by quote_argument(), tokenize back to the same
//   words; an error is one line of printable ASCII;
//   Session: every answer is whole lines, none with a control byte; each line is a `key: value`
//   pair, OK, list_OK or an ACK [code@index] {command} line; a step asks for a command only when
//   it answers nothing final (no OK or ACK after it), never while idling, and never with close;
//   once closed, nothing more is fed (as the server does).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "check.hpp"
#include "chorus/mpd/session.hpp"
#include "chorus/mpd/tokenizer.hpp"

namespace {

using namespace chorus;
using namespace chorus::mpd;

bool printable(std::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return false;
  }
  return true;
}

bool valid_answer_line(std::string_view line) {
  if (line == "OK" || line == "list_OK") return true;
  if (line.starts_with("ACK [")) return line.find("] {") != std::string_view::npos;
  const auto colon = line.find(": ");
  return colon != std::string_view::npos && colon > 0;
}

void check_output(const std::string& output) {
  if (output.empty()) return;
  CHORUS_FUZZ_CHECK(output.back() == '\n', "an answer ends with a line break");
  std::size_t start = 0;
  while (start < output.size()) {
    const auto end = output.find('\n', start);
    const std::string_view line(output.data() + start, end - start);
    CHORUS_FUZZ_CHECK(printable(line), "an answer line has no control byte");
    CHORUS_FUZZ_CHECK(valid_answer_line(line), "an answer line is key: value, OK, list_OK or ACK");
    start = end + 1;
  }
}

bool ends_final(const std::string& output) {
  return output == "OK\n" || output.ends_with("\nOK\n") || output.find("ACK [") != std::string::npos;
}

void check_tokenize(std::string_view line) {
  auto result = tokenize(line);
  if (auto* error = std::get_if<TokenizeError>(&result)) {
    CHORUS_FUZZ_CHECK(printable(error->message) && !error->message.empty(), "a printable reason");
    return;
  }
  const Words& words = std::get<Words>(result);
  CHORUS_FUZZ_CHECK(words.size() <= kMaxWords, "at most kMaxWords words");
  if (words.empty()) return;
  std::string again = words.front();
  for (std::size_t i = 1; i < words.size(); ++i) again += " " + quote_argument(words[i]);
  auto reread = tokenize(again);
  CHORUS_FUZZ_CHECK(std::holds_alternative<Words>(reread), "quoted words tokenize");
  CHORUS_FUZZ_CHECK(std::get<Words>(reread) == words, "quoted words tokenize to the same words");
}

control::ClusterView make_view() {
  control::ClusterView view;
  view.self = "a";
  view.rooms = {{.id = "a", .self = true, .up = true, .leader = true, .volume = 50, .muted = false,
                 .output = "null"},
                {.id = "b", .self = false, .up = true, .leader = false, .volume = 20,
                 .muted = true, .output = "null"}};
  auto library = std::make_shared<content::Catalog>();
  protocol::CatalogEntry one;
  one.name = "dir/one.flac";
  one.title = "One";
  one.artist = "Art";
  one.album = "Alb";
  one.frames = 48000 * 60;
  protocol::CatalogEntry two = one;
  two.name = "two.wav";
  two.title.clear();
  library->entries = {one, two};
  view.library = library;
  auto queue = std::make_shared<control::QueueView>();
  queue->version = 3;
  queue->items = {{1, one}, {2, two}};
  view.queue = queue;
  view.now.status = protocol::PlaybackStatus::playing;
  view.now.item_id = 2;
  view.now.position = 1;
  view.now.track = two;
  return view;
}

control::Outcome outcome_for(std::uint8_t pattern, unsigned step) {
  const unsigned choice = (pattern >> (step % 4 * 2)) & 3u;
  if (choice == 0) return {.ok = true, .refusal = control::Refusal::none, .text = "ok", .item_id = 5, .job = {}};
  const control::Refusal refusal = choice == 1   ? control::Refusal::bad_argument
                                   : choice == 2 ? control::Refusal::no_such
                                                 : control::Refusal::unavailable;
  return {.ok = false, .refusal = refusal, .text = "error: \x01no\n", .item_id = {}, .job = {}};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const control::ClusterView view = make_view();
  const std::uint8_t pattern = data[0];
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  Session session(SessionConfig{.password = (pattern & 1) ? std::optional<std::string>("pw")
                                                          : std::nullopt,
                                .max_command_list = 16});
  const Instant now{.steady_us = 5'000'000, .uptime_s = 1, .db_update_unix = 0};
  unsigned outcomes = 0;
  std::size_t start = 0;
  while (start < stream.size()) {
    auto end = stream.find('\n', start);
    if (end == std::string_view::npos) end = stream.size();
    const std::string_view line = stream.substr(start, end - start);
    start = end + 1;
    check_tokenize(line);
    Step step = session.on_line(line, view, now);
    while (true) {
      check_output(step.output);
      if (step.close) {
        CHORUS_FUZZ_CHECK(!step.command, "no command with close");
        return 0;
      }
      if (!step.command) break;
      CHORUS_FUZZ_CHECK(!ends_final(step.output), "a command is asked for before the final line");
      CHORUS_FUZZ_CHECK(!session.idling(), "no command while idling");
      step = session.on_outcome(outcome_for(pattern, outcomes++), view, now);
    }
    if ((line.size() % 7) == 3) check_output(session.on_changes(control::kPlayer).output);
  }
  return 0;
}
