#include <catch2/catch.hpp>

#include "chorus/mpd/session.hpp"
#include "fake_port.hpp"

using namespace chorus;
using namespace chorus::mpd;

namespace {

/// A session against a fixed snapshot; commands it asks for are answered by the test.
struct Client {
  explicit Client(SessionConfig config = {}) : session(std::move(config)) {}

  Session session;
  control::ClusterView view = test::sample_view();
  Instant now{.steady_us = 1'000'000, .uptime_s = 42, .db_update_unix = 1'700'000'000};

  Step send(std::string_view line) { return session.on_line(line, view, now); }
  /// The answer to a line that runs no command.
  std::string answer(std::string_view line) {
    Step step = send(line);
    INFO(line);
    CHECK_FALSE(step.command);
    return step.output;
  }
  /// The cli::Command a line asks for.
  cli::Command command(std::string_view line) {
    Step step = send(line);
    INFO(line << " answered " << step.output);
    REQUIRE(step.command);
    return *step.command;
  }
  Step complete(control::Outcome outcome) { return session.on_outcome(outcome, view, now); }
};

control::Outcome ok(std::optional<std::uint64_t> id = std::nullopt) {
  return {.ok = true, .refusal = control::Refusal::none, .text = "ok", .item_id = id, .job = {}};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("the greeting names the protocol version") {
  CHECK(Session::greeting() == "OK MPD 0.23.5\n");
}

TEST_CASE("ping, unknown commands and malformed lines") {
  Client client;
  CHECK(client.answer("ping") == "OK\n");
  CHECK(client.answer("frobnicate 1") == "ACK [5@0] {} unknown command \"frobnicate\"\n");
  CHECK(client.answer("add \"open") == "ACK [2@0] {} Missing closing '\"'\n");
  CHECK(client.answer("play 1 2") == "ACK [2@0] {play} too many arguments for \"play\"\n");
  CHECK(client.answer("seek 1") == "ACK [2@0] {seek} wrong number of arguments for \"seek\"\n");
  CHECK(client.answer("ping") == "OK\n");
}

TEST_CASE("a line that is not the MPD protocol closes the connection") {
  for (std::string_view line : {"", " ping", "GET / HTTP/1.1", "Status", "3play", "\x01"}) {
    Client client;
    Step step = client.send(line);
    INFO(line);
    CHECK(step.close);
    CHECK(step.output.empty());
  }
  Client client;
  Step step = client.send("pl-ay");  // a lower-case start, but no command name
  CHECK(step.close);
  CHECK(step.output == "ACK [5@0] {} Invalid word character\n");
  CHECK(client.answer("command_list_end") == "ACK [5@0] {} unknown command \"command_list_end\"\n");
}

TEST_CASE("status reports the queue, the modes, the volume and the position") {
  Client client;
  const std::string status = client.answer("status");
  CHECK(contains(status, "volume: 80\n"));
  CHECK(contains(status, "repeat: 0\nrandom: 0\nsingle: 0\nconsume: 0\n"));
  CHECK(contains(status, "playlist: 12\nplaylistlength: 2\nstate: pause\n"));
  CHECK(contains(status, "song: 1\nsongid: 9\n"));
  CHECK_FALSE(contains(status, "nextsong"));  // the last item, no repeat
  CHECK(contains(status, "time: 31:60\nelapsed: 30.500\nbitrate: 0\nduration: 60.000\n"));
  CHECK(contains(status, "audio: 48000:16:2\n"));
  CHECK(status.ends_with("OK\n"));
}

TEST_CASE("status while playing moves elapsed with the clock, and names the next song") {
  Client client;
  client.view.now.status = protocol::PlaybackStatus::playing;
  client.view.now.position = 0;
  client.view.now.item_id = 7;
  client.view.now.track = client.view.queue->items[0].track;
  client.view.now.anchor_frame = 48000;
  client.view.now.anchor_local_us = client.now.steady_us - 2'500'000;
  const std::string status = client.answer("status");
  CHECK(contains(status, "state: play\n"));
  CHECK(contains(status, "nextsong: 1\nnextsongid: 9\n"));
  CHECK(contains(status, "elapsed: 3.500\n"));
  client.view.now = {};
  const std::string stopped = client.answer("status");
  CHECK(contains(stopped, "state: stop\n"));
  CHECK_FALSE(contains(stopped, "elapsed"));
  CHECK_FALSE(contains(stopped, "songid"));
}

TEST_CASE("currentsong and playlistinfo write song entries") {
  Client client;
  CHECK(client.answer("currentsong") ==
        "file: Artist B/three.ogg\nArtist: Artist B\nAlbum: Album Y\nTitle: Three\nTime: 60\n"
        "duration: 60.000\nFormat: 48000:16:2\nPos: 1\nId: 9\nOK\n");
  const std::string all = client.answer("playlistinfo");
  CHECK(contains(all, "file: Artist A/Album X/01 one.flac\n"));
  CHECK(contains(all, "Pos: 0\nId: 7\n"));
  CHECK(contains(all, "Pos: 1\nId: 9\n"));
  CHECK(client.answer("playlistinfo 1").starts_with("file: Artist B/three.ogg\n"));
  CHECK(client.answer("playlistinfo 0:1").find("three") == std::string::npos);
  CHECK(client.answer("playlistinfo 5") == "ACK [2@0] {playlistinfo} Bad song index\n");
  CHECK(client.answer("playlistid 9").starts_with("file: Artist B/three.ogg\n"));
  CHECK(client.answer("playlistid 8") == "ACK [50@0] {playlistid} No such song\n");
}

TEST_CASE("plchanges: nothing at the current version, everything otherwise") {
  Client client;
  CHECK(client.answer("plchanges 12") == "OK\n");
  CHECK(contains(client.answer("plchanges 3"), "Id: 9\n"));
  CHECK(client.answer("plchangesposid 0") == "cpos: 0\nId: 7\ncpos: 1\nId: 9\nOK\n");
  CHECK(client.answer("plchangesposid 0 1:2") == "cpos: 1\nId: 9\nOK\n");
}

TEST_CASE("tagtypes switch tags off in song entries") {
  Client client;
  CHECK(client.answer("tagtypes") == "tagtype: Artist\ntagtype: Album\ntagtype: Title\nOK\n");
  CHECK(client.answer("tagtypes disable Album Title") == "OK\n");
  CHECK(client.answer("tagtypes") == "tagtype: Artist\nOK\n");
  CHECK_FALSE(contains(client.answer("currentsong"), "Album:"));
  CHECK(client.answer("tagtypes clear") == "OK\n");
  CHECK(client.answer("tagtypes") == "OK\n");
  CHECK(client.answer("tagtypes all") == "OK\n");
  CHECK(client.answer("tagtypes enable Genre") == "OK\n");
  CHECK(client.answer("tagtypes enable Bogus") == "ACK [2@0] {tagtypes} Unknown tag type: Bogus\n");
}

TEST_CASE("player commands become cli commands with 1-based positions") {
  Client client;
  auto play = client.command("play 0");
  CHECK(play.kind == cli::CommandKind::play);
  CHECK(play.track == 1);
  CHECK(client.complete(ok()).output == "OK\n");
  CHECK(client.command("play").track == 0);
  client.complete(ok());
  CHECK(client.command("playid 9").item_id == 9u);
  client.complete(ok());
  CHECK(client.command("pause").kind == cli::CommandKind::resume);  // paused: toggles to play
  client.complete(ok());
  CHECK(client.answer("pause 1") == "OK\n");  // already paused: nothing to do
  CHECK(client.command("pause 0").kind == cli::CommandKind::resume);
  client.complete(ok());
  CHECK(client.command("next").kind == cli::CommandKind::next);
  client.complete(ok());
  CHECK(client.command("previous").kind == cli::CommandKind::prev);
  client.complete(ok());
  CHECK(client.command("stop").kind == cli::CommandKind::stop);
  client.complete(ok());
  CHECK(client.answer("pause x") == "ACK [2@0] {pause} Boolean (0/1) expected: x\n");
}

TEST_CASE("seek of another song plays it first, then seeks") {
  Client client;
  auto first = client.command("seek 0 12.5");
  CHECK(first.kind == cli::CommandKind::play);
  CHECK(first.track == 1);
  Step step = client.complete(ok());
  REQUIRE(step.command);
  CHECK(step.command->kind == cli::CommandKind::seek);
  CHECK(step.command->seek == cli::SeekTarget{.position_us = 12'500'000, .relative = false});
  CHECK(client.complete(ok()).output == "OK\n");
  // the current song: a seek alone
  CHECK(client.command("seekid 9 3").kind == cli::CommandKind::seek);
  client.complete(ok());
  auto relative = client.command("seekcur -5");
  CHECK(relative.seek == cli::SeekTarget{.position_us = -5'000'000, .relative = true});
  client.complete(ok());
  CHECK(client.answer("seekcur x") == "ACK [2@0] {seekcur} Invalid time: x\n");
}

TEST_CASE("volume, modes and outputs") {
  Client client;
  auto setvol = client.command("setvol 30");
  CHECK(setvol.kind == cli::CommandKind::volume);
  CHECK(setvol.volume == 30);
  CHECK_FALSE(setvol.relative_volume);
  CHECK(setvol.room.empty());
  client.complete(ok());
  auto change = client.command("volume -10");
  CHECK(change.volume == -10);
  CHECK(change.relative_volume);
  client.complete(ok());
  CHECK(client.answer("setvol 101") == "ACK [2@0] {setvol} Invalid volume value\n");
  CHECK(client.answer("getvol") == "volume: 80\nOK\n");
  CHECK(client.command("random 1").mode == cli::Switch::on);
  client.complete(ok());
  CHECK(client.command("single oneshot").mode == cli::Switch::oneshot);
  client.complete(ok());
  CHECK(client.answer("repeat oneshot") == "ACK [2@0] {repeat} Boolean (0/1) expected: oneshot\n");
  CHECK(client.answer("outputs") ==
        "outputid: 0\noutputname: node-a\nplugin: chorus\noutputenabled: 1\n"
        "outputid: 1\noutputname: node-b\nplugin: chorus\noutputenabled: 0\nOK\n");
  auto enable = client.command("enableoutput 1");
  CHECK(enable.kind == cli::CommandKind::unmute);
  CHECK(enable.room == "node-b");
  client.complete(ok());
  auto toggle = client.command("toggleoutput 0");
  CHECK(toggle.kind == cli::CommandKind::mute);
  CHECK(toggle.room == "node-a");
  client.complete(ok());
  CHECK(client.answer("disableoutput 2") == "ACK [50@0] {disableoutput} No such audio output\n");
}

TEST_CASE("queue commands") {
  Client client;
  auto add = client.command("add \"Artist A\"");
  CHECK(add.kind == cli::CommandKind::add);
  CHECK(add.uri == "Artist A");
  CHECK_FALSE(add.position);
  CHECK(client.complete(ok(100)).output == "OK\n");
  auto addid = client.command("addid \"loose.wav\" 0");
  CHECK(addid.position == 1);
  CHECK(client.complete(ok(101)).output == "Id: 101\nOK\n");
  CHECK(client.command("addid loose.wav +0").position == 3);  // right after the current (1)
  client.complete(ok(102));
  CHECK(client.answer("addid \"Artist A\"") == "ACK [50@0] {addid} No such song\n");
  CHECK(client.answer("add nowhere") == "ACK [50@0] {add} No such song\n");
  auto remove = client.command("delete 0:2");
  CHECK(remove.kind == cli::CommandKind::remove);
  CHECK(remove.track == 1);
  CHECK(remove.count == 2);
  client.complete(ok());
  CHECK(client.command("delete 1:").count == 1);
  client.complete(ok());
  CHECK(client.answer("delete 2") == "ACK [2@0] {delete} Bad song index\n");
  CHECK(client.command("deleteid 9").item_id == 9u);
  client.complete(ok());
  auto move = client.command("move 1 0");
  CHECK(move.track == 2);
  CHECK(move.count == 1);
  CHECK(move.to == 1);
  client.complete(ok());
  auto moveid = client.command("moveid 7 1");
  CHECK(moveid.item_id == 7u);
  CHECK(moveid.to == 2);
  client.complete(ok());
  CHECK(client.command("clear").kind == cli::CommandKind::clear);
  client.complete(ok());
}

TEST_CASE("refusals map to MPD's error codes") {
  Client client;
  client.command("playid 5");
  CHECK(client.complete({.ok = false, .refusal = control::Refusal::no_such,
                         .text = "error: no queue item 5", .item_id = {}, .job = {}})
            .output == "ACK [50@0] {playid} no queue item 5\n");
  client.command("play 0");
  CHECK(client.complete({.ok = false, .refusal = control::Refusal::bad_argument, .text = "error: x",
                         .item_id = {}, .job = {}})
            .output == "ACK [2@0] {play} x\n");
  client.command("pause 0");
  CHECK(client.complete({.ok = false, .refusal = control::Refusal::not_now, .text = "error: y",
                         .item_id = {}, .job = {}})
            .output == "ACK [55@0] {pause} y\n");
  client.command("stop");
  CHECK(client.complete({.ok = false, .refusal = control::Refusal::unavailable,
                         .text = "error: no leader", .item_id = {}, .job = {}})
            .output == "ACK [52@0] {stop} no leader\n");
}

TEST_CASE("the library as directories") {
  Client client;
  CHECK(client.answer("lsinfo") ==
        "directory: Artist A\ndirectory: Artist B\nfile: loose.wav\nTime: 10\nduration: 10.000\n"
        "Format: 48000:16:2\nOK\n");
  const std::string album = client.answer("lsinfo \"Artist A/Album X\"");
  CHECK(contains(album, "file: Artist A/Album X/01 one.flac\n"));
  CHECK(contains(album, "file: Artist A/Album X/02 two.flac\n"));
  CHECK(client.answer("lsinfo \"/Artist A/\"") == "directory: Artist A/Album X\nOK\n");
  CHECK(client.answer("lsinfo nowhere") == "ACK [50@0] {lsinfo} No such directory\n");
  CHECK(client.answer("listall \"Artist A\"") ==
        "directory: Artist A/Album X\nfile: Artist A/Album X/01 one.flac\n"
        "file: Artist A/Album X/02 two.flac\nOK\n");
  CHECK(contains(client.answer("listallinfo"), "Title: Three\n"));
}

TEST_CASE("find, search, list and count") {
  Client client;
  auto files = [&](std::string_view line) {
    std::string out;
    std::string answer = client.answer(line);
    for (std::size_t at = answer.find("file: "); at != std::string::npos;
         at = answer.find("file: ", at + 1)) {
      out += answer.substr(at + 6, answer.find('\n', at) - at - 6) + "|";
    }
    return out;
  };
  CHECK(files("find artist \"Artist B\"") == "Artist B/three.ogg|");
  CHECK(files("find artist \"artist b\"").empty());
  CHECK(files("search artist \"artist b\"") == "Artist B/three.ogg|");
  CHECK(files("search any TWO") == "Artist A/Album X/02 two.flac|");
  CHECK(files("find \"(artist == 'Artist A')\"") ==
        "Artist A/Album X/01 one.flac|Artist A/Album X/02 two.flac|");
  CHECK(files("find \"((artist == 'Artist A') AND (title contains 'w'))\"") ==
        "Artist A/Album X/02 two.flac|");
  CHECK(files("find \"(!(artist == 'Artist A'))\"") == "Artist B/three.ogg|loose.wav|");
  CHECK(files("search \"(title contains 'O')\" sort -title window 0:2") ==
        "Artist A/Album X/02 two.flac|Artist A/Album X/01 one.flac|");
  CHECK(files("find \"(base 'Artist A')\"") ==
        "Artist A/Album X/01 one.flac|Artist A/Album X/02 two.flac|");
  CHECK(client.answer("find \"(artist =~ 'x')\"") ==
        "ACK [2@0] {find} Regular expressions are not supported\n");
  CHECK(client.answer("find \"(artist == 'x'\"") == "ACK [2@0] {find} ')' expected\n");
  CHECK(client.answer("find bogus x") == "ACK [2@0] {find} Unknown filter type: bogus\n");
  CHECK(client.answer("find artist") == "ACK [2@0] {find} Incorrect number of filter arguments\n");
  CHECK(client.answer("list artist") == "Artist: Artist A\nArtist: Artist B\nOK\n");
  CHECK(client.answer("list album \"Artist B\"") == "Album: Album Y\nOK\n");
  CHECK(client.answer("list album group artist") ==
        "Artist: Artist A\nAlbum: Album X\nArtist: Artist B\nAlbum: Album Y\nOK\n");
  CHECK(client.answer("list title \"(album == 'Album X')\"") == "Title: One\nTitle: Two\nOK\n");
  CHECK(client.answer("list genre") == "OK\n");
  CHECK(client.answer("count artist \"Artist A\"") == "songs: 2\nplaytime: 380\nOK\n");
  CHECK(client.answer("count group artist") ==
        "Artist: \nsongs: 1\nplaytime: 10\nArtist: Artist A\nsongs: 2\nplaytime: 380\n"
        "Artist: Artist B\nsongs: 1\nplaytime: 60\nOK\n");
  CHECK(client.answer("stats") == "artists: 2\nalbums: 2\nsongs: 4\nuptime: 42\n"
                                   "db_playtime: 450\ndb_update: 1700000000\nplaytime: 0\nOK\n");
}

TEST_CASE("command lists run in order and stop at the first error with its index") {
  Client client;
  CHECK(client.answer("command_list_begin").empty());
  CHECK(client.answer("ping").empty());
  CHECK(client.answer("getvol").empty());
  CHECK(client.answer("command_list_end") == "volume: 80\nOK\n");

  CHECK(client.answer("command_list_ok_begin").empty());
  client.answer("ping");
  client.answer("getvol");
  client.answer("nosuch");
  client.answer("ping");
  CHECK(client.answer("command_list_end") ==
        "list_OK\nvolume: 80\nlist_OK\nACK [5@2] {} unknown command \"nosuch\"\n");

  // a command that runs: the list waits for its outcome, then goes on
  client.answer("command_list_ok_begin");
  client.answer("setvol 10");
  client.answer("addid loose.wav");
  client.answer("getvol");
  Step step = client.send("command_list_end");
  REQUIRE(step.command);
  CHECK(step.command->kind == cli::CommandKind::volume);
  step = client.complete(ok());
  CHECK(step.output == "list_OK\n");
  REQUIRE(step.command);
  CHECK(step.command->kind == cli::CommandKind::add);
  step = client.complete(ok(55));
  CHECK(step.output == "Id: 55\nlist_OK\nvolume: 80\nlist_OK\nOK\n");
  CHECK_FALSE(step.command);

  // a line that does not tokenize fails at its turn, after the lines before it ran
  client.answer("command_list_begin");
  client.answer("getvol");
  client.answer("add \"open");
  client.answer("ping");
  CHECK(client.answer("command_list_end") == "volume: 80\nACK [2@1] {} Missing closing '\"'\n");

  // a refused command ends the list
  client.answer("command_list_begin");
  client.answer("ping");
  client.answer("stop");
  client.answer("ping");
  client.send("command_list_end");
  CHECK(client.complete({.ok = false, .refusal = control::Refusal::unavailable,
                         .text = "error: no leader", .item_id = {}, .job = {}})
            .output == "ACK [52@1] {stop} no leader\n");
  CHECK(client.answer("ping") == "OK\n");
}

TEST_CASE("idle and noidle in a command list close the connection") {
  for (std::string_view line : {"idle", "noidle"}) {
    Client client;
    client.answer("command_list_ok_begin");
    CHECK(client.send(line).close);
  }
}

TEST_CASE("a command list longer than the limit closes the connection") {
  Client client(SessionConfig{.password = std::nullopt, .max_command_list = 3});
  client.answer("command_list_begin");
  for (int i = 0; i < 3; ++i) CHECK(client.answer("ping").empty());
  Step step = client.send("ping");
  CHECK(step.close);
  CHECK(step.output == "ACK [1@3] {} command list is too long\n");
}

TEST_CASE("idle answers changes made before it, or the first ones while it waits") {
  Client client;
  CHECK(client.session.on_changes(control::kPlayer).output.empty());  // not idling: remembered
  CHECK(client.answer("idle") == "changed: player\nOK\n");
  CHECK(client.answer("idle").empty());
  CHECK(client.session.idling());
  CHECK(client.session.on_changes(control::kMixer | control::kOptions).output ==
        "changed: mixer\nchanged: options\nOK\n");
  CHECK_FALSE(client.session.idling());
  // only the subsystems asked for
  CHECK(client.answer("idle playlist output").empty());
  CHECK(client.session.on_changes(control::kPlayer).output.empty());
  CHECK(client.session.on_changes(control::kOutput).output == "changed: output\nOK\n");
  // noidle ends it; noidle when not idling says nothing
  CHECK(client.answer("idle").empty());
  CHECK(client.answer("noidle") == "OK\n");
  CHECK(client.answer("noidle").empty());
  CHECK(client.answer("idle bogus") == "ACK [2@0] {idle} Unrecognized idle event: bogus\n");
  CHECK(client.answer("idle stored_playlist").empty());  // never changes, but may be waited for
  CHECK(client.answer("noidle") == "OK\n");
}

TEST_CASE("any command but noidle during idle closes the connection") {
  Client client;
  client.answer("idle");
  Step step = client.send("status");
  CHECK(step.close);
  CHECK(step.output.empty());
}

TEST_CASE("close ends the connection without an answer") {
  Client client;
  Step step = client.send("close");
  CHECK(step.close);
  CHECK(step.output.empty());
}

TEST_CASE("with a password, only a few commands run before it is given") {
  Client client(SessionConfig{.password = "s3cret", .max_command_list = 4096});
  CHECK(client.answer("ping") == "OK\n");
  CHECK(client.answer("status") == "ACK [4@0] {status} you don't have permission for \"status\"\n");
  CHECK(client.answer("play") == "ACK [4@0] {play} you don't have permission for \"play\"\n");
  CHECK(client.answer("commands") ==
        "command: close\ncommand: commands\ncommand: notcommands\ncommand: password\n"
        "command: ping\nOK\n");
  CHECK(contains(client.answer("notcommands"), "command: status\n"));
  CHECK(client.answer("password wrong") == "ACK [3@0] {password} incorrect password\n");
  CHECK(client.answer("password s3cret") == "OK\n");
  CHECK(client.session.authorized());
  CHECK(contains(client.answer("status"), "state: pause"));
  CHECK(client.answer("notcommands") == "OK\n");
  CHECK(contains(client.answer("commands"), "command: status\n"));
}

TEST_CASE("without a password, any password is wrong") {
  Client client;
  CHECK(client.answer("password x") == "ACK [3@0] {password} incorrect password\n");
  CHECK(contains(client.answer("status"), "state:"));
}

TEST_CASE("song tags cannot inject protocol lines") {
  Client client;
  auto library = std::make_shared<content::Catalog>(*client.view.library);
  library->entries[3].title = "x\nOK\nchanged: player";
  client.view.library = library;
  const std::string answer = client.answer("lsinfo");
  CHECK(contains(answer, "Title: x OK changed: player\n"));
}

TEST_CASE("update and rescan run the node's rescan and answer its job number") {
  for (std::string_view line : {"update", "rescan", "update \"Artist A\"", "rescan Artist"}) {
    Client client;
    INFO(line);
    CHECK(client.command(line).kind == cli::CommandKind::update);
    control::Outcome outcome = ok();
    outcome.job = 7;
    CHECK(client.complete(outcome).output == "updating_db: 7\nOK\n");
  }
  Client client;
  CHECK(client.answer("update a b") == "ACK [2@0] {update} too many arguments for \"update\"\n");
}

TEST_CASE("status shows updating_db while a rescan is queued or under way") {
  Client client;
  CHECK_FALSE(contains(client.answer("status"), "updating_db"));
  client.view.updating_db = 3;
  CHECK(contains(client.answer("status"), "updating_db: 3\n"));
}

TEST_CASE("idle update fires when a rescan starts or ends") {
  Client client;
  CHECK(client.answer("idle update").empty());
  CHECK(client.session.on_changes(control::kDatabase).output.empty());
  CHECK(client.session.on_changes(control::kUpdate).output == "changed: update\nOK\n");
  CHECK(client.session.on_changes(control::kUpdate | control::kDatabase).output.empty());
  CHECK(client.answer("idle") == "changed: database\nchanged: update\nOK\n");
}
