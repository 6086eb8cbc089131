#include "chorus/node/message_handler.hpp"

#include <variant>

#include <spdlog/spdlog.h>

namespace chorus::node {

namespace {

/// One callable made of several lambdas; std::visit picks the overload for each alternative.
template <class... Lambdas>
struct Overloaded : Lambdas... {
  using Lambdas::operator()...;
};
template <class... Lambdas>
Overloaded(Lambdas...) -> Overloaded<Lambdas...>;

/// A membership message escaped the network layer, which consumes them all: nothing to do here.
void ignore(const std::string& from, const protocol::Message& message) {
  spdlog::debug("ignoring {} from {}: the network layer handles it", protocol::type_name(message),
                from);
}

}  // namespace

MessageHandler::MessageHandler(ElectionInbox& election, ClockInbox& clock, PlaybackInbox& playback,
                               RoomInbox& rooms)
    : election_(election), clock_(clock), playback_(playback), rooms_(rooms) {}

void MessageHandler::handle(const std::string& from, const protocol::Message& message,
                            net::Clock::time_point received) const {
  namespace p = protocol;
  // No generic lambda below: it would swallow a message type added later without a route.
  std::visit(Overloaded{
      [&](const p::Election& m) { election_.receive(m); },
      [&](const p::ElectionAnswer& m) { election_.receive(m); },
      [&](const p::Coordinator& m) { election_.receive(m); },
      [&](const p::TimeRequest& m) { clock_.on_request(from, m, received); },
      [&](const p::TimeResponse& m) { clock_.on_response(from, m, received); },
      [&](const p::PlayRequest&) { playback_.receive(from, message); },
      [&](const p::PauseRequest&) { playback_.receive(from, message); },
      [&](const p::ResumeRequest&) { playback_.receive(from, message); },
      [&](const p::StopRequest&) { playback_.receive(from, message); },
      [&](const p::StateSyncRequest&) { playback_.receive(from, message); },
      [&](const p::StateSyncResponse&) { playback_.receive(from, message); },
      [&](const p::StateOffer&) { playback_.receive(from, message); },
      [&](const p::ControlRequest&) { playback_.receive(from, message); },
      [&](const p::ControlResponse&) { playback_.receive(from, message); },
      [&](const p::RoomSet&) { rooms_.receive(from, message); },
      [&](const p::RoomState&) { rooms_.receive(from, message); },
      [&](const p::QueueEdit&) { playback_.receive(from, message); },
      [&](const p::QueueSyncRequest&) { playback_.receive(from, message); },
      [&](const p::QueueSnapshot&) { playback_.receive(from, message); },
      [&](const p::QueueOffer&) { playback_.receive(from, message); },
      [&](const p::Hello&) { ignore(from, message); },
      [&](const p::Reconnect&) { ignore(from, message); },
      [&](const p::HelloReject&) { ignore(from, message); },
      [&](const p::Discovery&) { ignore(from, message); },
      [&](const p::Heartbeat&) { ignore(from, message); },
      [&](const p::Leave&) { ignore(from, message); },
      // Content messages belong on content links (ContentService), never on the cluster link.
      [&](const p::ContentHello&) { ignore(from, message); },
      [&](const p::CatalogNotice&) { ignore(from, message); },
      [&](const p::CatalogRequest&) { ignore(from, message); },
      [&](const p::CatalogPage&) { ignore(from, message); },
      [&](const p::Want&) { ignore(from, message); },
      [&](const p::Have&) { ignore(from, message); },
      [&](const p::ManifestRequest&) { ignore(from, message); },
      [&](const p::Manifest&) { ignore(from, message); },
      [&](const p::ChunkRequest&) { ignore(from, message); },
      [&](const p::ChunkData&) { ignore(from, message); },
      [&](const p::ContentRefused&) { ignore(from, message); },
  }, message);
}

}  // namespace chorus::node
