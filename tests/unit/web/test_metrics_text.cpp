// /metrics in Prometheus' text format, checked line by line: every family has HELP then TYPE then
// its samples, names are unique and prefixed, counters end in _total, label values are escaped.

#include <catch2/catch.hpp>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "chorus/web/metrics_text.hpp"

namespace {

using namespace chorus;

control::ClusterView sample_view() {
  control::ClusterView view;
  view.self = "kitchen";
  auto& m = view.metrics;
  m.node = "kitchen";
  m.leader = true;
  m.epoch = 7;
  m.leader_changes = 2;
  m.peers_up = 2;
  m.peers_known = 3;
  m.clock_synced = true;
  m.clock_offset_us = -1500;
  m.clock_error_us = 20;
  m.frames_inserted = 11;
  m.frames_dropped = 12;
  m.jumps = 1;
  m.not_decoded_frames = 480;
  m.output_underruns = 3;
  m.send_queue_frames = 4096;
  m.bytes_in = 123456789012ull;
  m.bytes_out = 5;
  m.content_bytes_in = 6;
  m.content_bytes_out = 7;
  m.fetches = 1;
  m.fetch_chunks_held = 30;
  m.fetch_chunks_total = 109;
  m.library_tracks = 10;
  m.cluster_tracks = 25;
  m.control_clients = 2;
  view.rooms = {control::RoomView{.id = "kitchen", .self = true, .up = true, .leader = true, .volume = 40,
                                  .muted = false, .output = "pulse"},
                control::RoomView{.id = "odd \"room\"\\\nname", .self = false, .up = false, .leader = false,
                                  .volume = 100, .muted = true, .output = ""}};
  view.now.status = protocol::PlaybackStatus::paused;
  auto queue = std::make_shared<control::QueueView>();
  queue->items.resize(4);
  view.queue = queue;
  return view;
}

struct Family {
  std::string type;
  std::map<std::string, std::string> samples;  // labels -> value
};

/// Reads the text as Prometheus would, failing the test at the first line that breaks the format.
std::map<std::string, Family> read_exposition(const std::string& text) {
  static const std::regex help(R"(# HELP (chorus_[a-z_]+) [^\n]+)");
  static const std::regex type(R"(# TYPE (chorus_[a-z_]+) (counter|gauge))");
  static const std::regex sample(R"re((chorus_[a-z_]+)(\{[a-z_]+="(?:[^"\\\n]|\\["\\n])*"\})? (\S+))re");
  REQUIRE(!text.empty());
  REQUIRE(text.back() == '\n');
  std::map<std::string, Family> families;
  std::string current;
  std::string helped;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    INFO("line: " << line);
    std::smatch match;
    if (std::regex_match(line, match, help)) {
      REQUIRE(families.count(match[1]) == 0);  // one family, one block
      helped = match[1];
    } else if (std::regex_match(line, match, type)) {
      REQUIRE(match[1] == helped);  // TYPE right after its HELP
      current = match[1];
      families[current].type = match[2];
    } else if (std::regex_match(line, match, sample)) {
      REQUIRE(match[1] == current);  // samples under their own TYPE
      const std::string labels = match[2];
      REQUIRE(families[current].samples.count(labels) == 0);
      std::size_t used = 0;
      const std::string value = match[3];
      (void)std::stod(value, &used);
      REQUIRE(used == value.size());
      families[current].samples[labels] = value;
    } else {
      FAIL("not a line of the text format");
    }
  }
  return families;
}

std::string value(const std::map<std::string, Family>& families, const std::string& name,
                  const std::string& labels = "") {
  INFO(name << labels);
  REQUIRE(families.count(name) == 1);
  REQUIRE(families.at(name).samples.count(labels) == 1);
  return families.at(name).samples.at(labels);
}

}  // namespace

TEST_CASE("label values escape backslash, double quote and newline only") {
  CHECK(web::escape_label_value("plain") == "plain");
  CHECK(web::escape_label_value("a\"b") == "a\\\"b");
  CHECK(web::escape_label_value("a\\b") == "a\\\\b");
  CHECK(web::escape_label_value("a\nb") == "a\\nb");
  CHECK(web::escape_label_value("tab\there ünï") == "tab\there ünï");
}

TEST_CASE("every metric is in the text format with its value") {
  const auto families = read_exposition(web::metrics_text(sample_view()));
  for (const auto& [name, family] : families) {
    INFO(name);
    CHECK((family.type == "counter") == name.ends_with("_total"));
    CHECK(!family.samples.empty());
  }
  CHECK(value(families, "chorus_info", "{node=\"kitchen\"}") == "1");
  CHECK(value(families, "chorus_leader") == "1");
  CHECK(value(families, "chorus_epoch") == "7");
  CHECK(value(families, "chorus_leader_changes_total") == "2");
  CHECK(value(families, "chorus_peers_up") == "2");
  CHECK(value(families, "chorus_peers_known") == "3");
  CHECK(value(families, "chorus_clock_synced") == "1");
  CHECK(std::stod(value(families, "chorus_clock_offset_seconds")) == Approx(-0.0015));
  CHECK(std::stod(value(families, "chorus_clock_error_seconds")) == Approx(0.00002));
  CHECK(value(families, "chorus_frames_inserted_total") == "11");
  CHECK(value(families, "chorus_frames_dropped_total") == "12");
  CHECK(value(families, "chorus_jumps_total") == "1");
  CHECK(value(families, "chorus_not_decoded_frames_total") == "480");
  CHECK(value(families, "chorus_output_underruns_total") == "3");
  CHECK(value(families, "chorus_send_queue_messages") == "4096");
  CHECK(std::stod(value(families, "chorus_received_bytes_total")) == 123456789012.0);
  CHECK(value(families, "chorus_sent_bytes_total") == "5");
  CHECK(value(families, "chorus_content_received_bytes_total") == "6");
  CHECK(value(families, "chorus_content_sent_bytes_total") == "7");
  CHECK(value(families, "chorus_fetches") == "1");
  CHECK(value(families, "chorus_fetch_chunks_held") == "30");
  CHECK(value(families, "chorus_fetch_chunks") == "109");
  CHECK(value(families, "chorus_library_tracks") == "10");
  CHECK(value(families, "chorus_cluster_tracks") == "25");
  CHECK(value(families, "chorus_control_clients") == "2");
  CHECK(value(families, "chorus_room_volume", "{room=\"kitchen\"}") == "40");
  CHECK(value(families, "chorus_room_muted", "{room=\"kitchen\"}") == "0");
  CHECK(value(families, "chorus_room_up", "{room=\"kitchen\"}") == "1");
  const std::string odd = "{room=\"odd \\\"room\\\"\\\\\\nname\"}";
  CHECK(value(families, "chorus_room_volume", odd) == "100");
  CHECK(value(families, "chorus_room_muted", odd) == "1");
  CHECK(value(families, "chorus_room_up", odd) == "0");
  CHECK(value(families, "chorus_playback_state", "{state=\"paused\"}") == "1");
  CHECK(value(families, "chorus_playback_state", "{state=\"playing\"}") == "0");
  CHECK(value(families, "chorus_playback_state", "{state=\"stopped\"}") == "0");
  CHECK(value(families, "chorus_queue_length") == "4");
}

TEST_CASE("a follower without rooms or a queue still gives every family") {
  control::ClusterView view;
  view.self = "lonely";
  const auto families = read_exposition(web::metrics_text(view));
  CHECK(value(families, "chorus_info", "{node=\"lonely\"}") == "1");
  CHECK(value(families, "chorus_leader") == "0");
  CHECK(value(families, "chorus_playback_state", "{state=\"stopped\"}") == "1");
  CHECK(value(families, "chorus_queue_length") == "0");
}
