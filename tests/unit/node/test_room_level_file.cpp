#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>
#include <unistd.h>

#include "node/room_level_file.hpp"

using namespace chorus::node;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "room-level-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

void write(const std::filesystem::path& file, const std::string& text) {
  std::ofstream(file) << text;
}

}  // namespace

TEST_CASE("a room level survives a save and a load") {
  TempDir dir;
  const auto file = dir.path / "room.json";
  REQUIRE(save_room_level(file, RoomLevel{40, true, 12}));
  CHECK(load_room_level(file) == RoomLevel{40, true, 12});
  REQUIRE(save_room_level(file, RoomLevel{0, false, 13}));
  CHECK(load_room_level(file) == RoomLevel{0, false, 13});
  CHECK_FALSE(std::filesystem::exists(dir.path / "room.json.new"));
}

TEST_CASE("a missing file is volume 100 unmuted, silently") {
  TempDir dir;
  std::string problem;
  CHECK(load_room_level(dir.path / "none.json", &problem) == RoomLevel{});
  CHECK(problem.empty());
}

TEST_CASE("a damaged or out-of-range file is volume 100 unmuted, with the reason") {
  TempDir dir;
  const auto file = dir.path / "room.json";
  for (const char* text : {"", "not json", "[1,2]", R"({"volume":101,"muted":false,"seq":1})",
                                 R"({"volume":50,"muted":"no","seq":1})", R"({"volume":50,"muted":false})",
                                 R"({"volume":50,"muted":false,"seq":-1})", R"({"volume":5.5,"muted":false,"seq":1})"}) {
    INFO(text);
    write(file, text);
    std::string problem;
    CHECK(load_room_level(file, &problem) == RoomLevel{});
    CHECK_FALSE(problem.empty());
  }
}

TEST_CASE("a level that cannot be written says why") {
  TempDir dir;
  std::string problem;
  CHECK_FALSE(save_room_level(dir.path / "missing-dir" / "room.json", RoomLevel{}, &problem));
  CHECK_FALSE(problem.empty());
}
