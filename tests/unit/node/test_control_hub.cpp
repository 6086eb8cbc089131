// ControlHub: snapshots replace each other, listeners hear changes until their subscription ends,
// commands run on the io thread.

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "chorus/node/control_hub.hpp"

using chorus::control::ClusterView;
using chorus::control::Outcome;
using chorus::node::ControlHub;

namespace {

std::shared_ptr<const ClusterView> view_with_epoch(std::uint64_t epoch) {
  auto view = std::make_shared<ClusterView>();
  view->epoch = epoch;
  return view;
}

}  // namespace

TEST_CASE("the hub serves the newest snapshot and tells listeners what changed", "[control]") {
  boost::asio::io_context io;
  ControlHub hub(io, [](const chorus::cli::Command&, ControlHub::Done) {});
  CHECK(hub.view()->epoch == 0);

  std::vector<chorus::control::Subsystems> heard;
  auto subscription = hub.subscribe([&](chorus::control::Subsystems changed) { heard.push_back(changed); });
  hub.publish(view_with_epoch(3), chorus::control::kPlayer | chorus::control::kMixer);
  CHECK(hub.view()->epoch == 3);
  hub.publish(view_with_epoch(4), 0);  // a refresh nobody is told of
  CHECK(hub.view()->epoch == 4);
  REQUIRE(heard.size() == 1);
  CHECK(heard[0] == (chorus::control::kPlayer | chorus::control::kMixer));

  subscription.reset();
  hub.publish(view_with_epoch(5), chorus::control::kPlaylist);
  CHECK(heard.size() == 1);
}

TEST_CASE("the hub runs commands on the io thread and counts clients", "[control]") {
  boost::asio::io_context io;
  std::thread::id ran_on;
  ControlHub hub(io, [&](const chorus::cli::Command& command, ControlHub::Done done) {
    ran_on = std::this_thread::get_id();
    Outcome outcome;
    outcome.ok = command.kind == chorus::cli::CommandKind::pause;
    outcome.text = "ok: pausing";
    done(outcome);
  });
  std::atomic<bool> answered = false;
  std::thread front_end([&] {
    hub.clients_changed(+1);
    chorus::cli::Command pause;
    pause.kind = chorus::cli::CommandKind::pause;
    hub.run(pause, [&](Outcome outcome) { answered = outcome.ok; });
  });
  front_end.join();
  CHECK_FALSE(answered);  // nothing runs until the io thread does
  io.run();
  CHECK(answered);
  CHECK(ran_on == std::this_thread::get_id());
  CHECK(hub.clients() == 1);
}

TEST_CASE("snapshots can be read on another thread while they are replaced", "[control]") {
  boost::asio::io_context io;
  ControlHub hub(io, [](const chorus::cli::Command&, ControlHub::Done) {});
  std::atomic<bool> done = false;
  std::uint64_t last_seen = 0;
  bool monotonic = true;
  std::thread reader([&] {
    while (!done) {
      const auto epoch = hub.view()->epoch;
      monotonic = monotonic && epoch >= last_seen;
      last_seen = epoch;
    }
  });
  for (std::uint64_t epoch = 1; epoch <= 20'000; ++epoch) hub.publish(view_with_epoch(epoch), 0);
  done = true;
  reader.join();
  CHECK(monotonic);
  CHECK(hub.view()->epoch == 20'000);
}
