// The page in a real browser (headless Chromium, driven by browser_page.py through the DevTools
// protocol) against the server with a fake ControlPort: the page shows the rooms, fits a phone's
// width, moves its position bar on its own clock, and its pause button, a volume slider and its
// position bar reach the port as commands. Without Chromium the test says so and passes (it has
// nothing to drive).

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>

#include "served.hpp"

#ifndef CHORUS_SOURCE_DIR
#error "CHORUS_SOURCE_DIR must name the source tree (tests/CMakeLists.txt)"
#endif

namespace {

using namespace chorus;
using namespace chorus::test;

bool have_chromium() { return std::system("command -v chromium >/dev/null 2>&1") == 0; }

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("the page in headless Chromium: rooms shown, pause clicked, a volume slider moved") {
  if (!have_chromium()) {
    WARN("no chromium: the page was not run in a browser");
    return;
  }
  Served served;
  const auto out = std::filesystem::temp_directory_path() / ("chorus-web-browser-" + std::to_string(::getpid()));
  std::filesystem::create_directories(out);
  const std::string command = "python3 " CHORUS_SOURCE_DIR "/tests/unit/web/browser_page.py --url http://127.0.0.1:" +
                              std::to_string(served.number()) + "/ --out " + out.string() + " >" +
                              (out / "result.json").string() + " 2>" + (out / "driver.log").string();
  const int status = std::system(command.c_str());
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 77) {
    WARN("the browser could not be driven: " << read_file(out / "driver.log"));
    return;
  }
  INFO("driver log:\n" << read_file(out / "driver.log") << "\nchromium log tail:\n"
                       << read_file(out / "chromium.log").substr(0, 2000));
  REQUIRE(code == 0);
  const auto result = boost::json::parse(read_file(out / "result.json")).as_object();
  const auto volume = static_cast<int>(result.at("volume").as_int64());
  CHECK(std::filesystem::file_size(out / "page.png") > 1000);

  const auto commands = served.port.commands();
  bool paused = false;
  bool volume_set = false;
  bool seeked_half_way = false;
  for (const auto& received : commands) {
    paused |= received.kind == cli::CommandKind::pause;
    volume_set |= received.kind == cli::CommandKind::volume && received.room == "hall" && received.volume == volume;
    // The track is 100 s long; the bar's middle is 50 s, give or take a pixel's worth.
    seeked_half_way |= received.kind == cli::CommandKind::seek && !received.seek->relative &&
                       std::abs(received.seek->position_us - 50'000'000) < 2'000'000;
  }
  CHECK(paused);
  CHECK(volume_set);
  CHECK(seeked_half_way);
  CHECK(served.port.view()->rooms[1].volume == volume);
  // CHORUS_KEEP_BROWSER_OUTPUT=1 keeps the screenshot and the logs (the path is printed).
  if (std::getenv("CHORUS_KEEP_BROWSER_OUTPUT") != nullptr) {
    WARN("browser output kept in " << out.string());
  } else {
    std::filesystem::remove_all(out);
  }
}
