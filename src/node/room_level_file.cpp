#include "room_level_file.hpp"

#include <fstream>
#include <iterator>
#include <system_error>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace chorus::node {

namespace json = boost::json;

namespace {

void say(std::string* problem, std::string text) {
  if (problem != nullptr) *problem = std::move(text);
}

}  // namespace

RoomLevel load_room_level(const std::filesystem::path& file, std::string* problem) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  std::string text(std::istreambuf_iterator<char>(in), {});
  if (text.size() > 4096) {
    say(problem, "larger than a room level can be");
    return {};
  }
  boost::system::error_code ec;
  const json::value document = json::parse(text, ec);
  const json::object* object = ec ? nullptr : document.if_object();
  if (object == nullptr) {
    say(problem, "not a JSON object");
    return {};
  }
  const json::value* volume = object->if_contains("volume");
  const json::value* muted = object->if_contains("muted");
  const json::value* seq = object->if_contains("seq");
  const bool valid = volume != nullptr && volume->is_int64() && volume->get_int64() >= 0 &&
                     volume->get_int64() <= 100 && muted != nullptr && muted->is_bool() &&
                     seq != nullptr && (seq->is_uint64() || (seq->is_int64() && seq->get_int64() >= 0));
  if (!valid) {
    say(problem, "needs volume 0..100, muted true/false and seq >= 0");
    return {};
  }
  return {static_cast<int>(volume->get_int64()), muted->get_bool(),
          seq->is_uint64() ? seq->get_uint64() : static_cast<std::uint64_t>(seq->get_int64())};
}

bool save_room_level(const std::filesystem::path& file, const RoomLevel& level, std::string* problem) {
  json::object object;
  object["volume"] = level.volume;
  object["muted"] = level.muted;
  object["seq"] = level.seq;
  auto temporary = file;
  temporary += ".new";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << json::serialize(object) << '\n';
    out.flush();
    if (!out) {
      say(problem, "cannot write " + temporary.string());
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, file, ec);
  if (ec) {
    say(problem, "cannot replace " + file.string() + ": " + ec.message());
    return false;
  }
  return true;
}

}  // namespace chorus::node
