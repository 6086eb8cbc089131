// The keyed handshake and the record layer, run between two in-memory ends.

#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "chorus/security/handshake.hpp"

using namespace chorus::security;
using chorus::protocol::Frame;
using chorus::protocol::FrameError;
using chorus::protocol::NeedMore;

namespace {

ClusterKey key_of(unsigned char fill) {
  ClusterKey key;
  key.bytes.fill(fill);
  return key;
}

struct Pair {
  std::unique_ptr<Handshake> dialer;
  std::unique_ptr<Handshake> acceptor;
  std::string to_acceptor;  ///< everything the dialer sent
  std::string to_dialer;    ///< everything the acceptor sent
};

/// Delivers output both ways, `chunk` bytes at a time, until neither end has more to say.
/// Bytes a finished handshake does not take are kept back in `rest_*`.
void exchange(Pair& pair, std::size_t chunk = 1 << 20) {
  for (int round = 0; round < 10; ++round) {
    auto a = pair.dialer->take_output();
    auto b = pair.acceptor->take_output();
    if (a.empty() && b.empty()) return;
    pair.to_acceptor += a;
    pair.to_dialer += b;
    for (std::size_t at = 0; at < a.size(); at += chunk) pair.acceptor->feed(std::string_view(a).substr(at, chunk));
    for (std::size_t at = 0; at < b.size(); at += chunk) pair.dialer->feed(std::string_view(b).substr(at, chunk));
  }
}

Pair make_pair(KeyRing dialer_keys, KeyRing acceptor_keys) {
  return {std::make_unique<Handshake>(Role::dialer, std::move(dialer_keys), Ephemeral::generate()),
          std::make_unique<Handshake>(Role::acceptor, std::move(acceptor_keys), Ephemeral::generate()),
          {}, {}};
}

std::string open_one(RecordOpener& opener, const std::string& record) {
  opener.feed(record);
  auto result = opener.next();
  REQUIRE(std::holds_alternative<Frame>(result));
  return std::get<Frame>(result).body;
}

bool refused(RecordOpener& opener, const std::string& record) {
  opener.feed(record);
  return std::holds_alternative<FrameError>(opener.next());
}

}  // namespace

TEST_CASE("two ends holding the key establish a link and frames pass both ways") {
  auto pair = make_pair({key_of(7), {}}, {key_of(7), {}});
  CHECK(pair.dialer->wanted() == kHandshakeHelloBytes);
  exchange(pair);
  REQUIRE(pair.dialer->state() == Handshake::State::established);
  REQUIRE(pair.acceptor->state() == Handshake::State::established);
  CHECK(pair.to_acceptor.size() == kHandshakeHelloBytes + kHandshakeProofBytes);
  CHECK(pair.to_dialer.size() == kHandshakeHelloBytes + kHandshakeProofBytes);
  CHECK(pair.dialer->key_id() == key_of(7).id());
  CHECK(pair.acceptor->key_id() == key_of(7).id());
  CHECK(pair.dialer->wanted() == 0);

  auto d = pair.dialer->take_session();
  auto a = pair.acceptor->take_session();
  for (int i = 0; i < 100; ++i) {
    std::string body = "{\"type\":\"HEARTBEAT\",\"n\":" + std::to_string(i) + "}";
    auto record = d.sealer.seal(body);
    CHECK(record.size() == 4 + body.size() + kRecordOverhead);
    CHECK(record.find("HEARTBEAT") == std::string::npos);  // encrypted
    CHECK(open_one(a.opener, record) == body);
    CHECK(open_one(d.opener, a.sealer.seal(body + "back")) == body + "back");
  }
}

TEST_CASE("the handshake works whatever way the bytes are split") {
  for (std::size_t chunk : {1u, 3u, 47u, 48u, 49u, 55u, 56u, 57u}) {
    auto pair = make_pair({key_of(1), {}}, {key_of(1), {}});
    exchange(pair, chunk);
    CHECK(pair.dialer->state() == Handshake::State::established);
    CHECK(pair.acceptor->state() == Handshake::State::established);
  }
}

TEST_CASE("a handshake takes no byte beyond its own messages") {
  auto pair = make_pair({key_of(1), {}}, {key_of(1), {}});
  CHECK(pair.acceptor->feed(pair.dialer->take_output()) == kHandshakeHelloBytes);
  auto answer = pair.acceptor->take_output();
  REQUIRE(answer.size() == kHandshakeHelloBytes + kHandshakeProofBytes);
  CHECK(pair.dialer->feed(answer + "first record") == answer.size());
  REQUIRE(pair.dialer->state() == Handshake::State::established);
  CHECK(pair.dialer->feed("more") == 0);
  auto proof = pair.dialer->take_output();
  CHECK(pair.acceptor->feed(proof + "first record") == kHandshakeProofBytes);
  CHECK(pair.acceptor->state() == Handshake::State::established);
}

TEST_CASE("a stranger's junk is taken only up to the handshake's message sizes, then refused") {
  Handshake acceptor(Role::acceptor, {key_of(1), {}}, Ephemeral::generate());
  CHECK(acceptor.feed(std::string(1000, 'x')) == kHandshakeHelloBytes);
  CHECK(acceptor.state() == Handshake::State::failed);
  CHECK(acceptor.feed(std::string(1000, 'x')) == 0);
}

TEST_CASE("a peer with another key is refused by the acceptor, which says nothing") {
  auto pair = make_pair({key_of(1), {}}, {key_of(2), {}});
  pair.acceptor->feed(pair.dialer->take_output());
  CHECK(pair.acceptor->state() == Handshake::State::failed);
  CHECK_THAT(pair.acceptor->failure(), Catch::Contains("another cluster key") &&
                                           Catch::Contains(to_hex(key_of(1).id())));
  CHECK(pair.acceptor->take_output().empty());
  CHECK(pair.acceptor->wanted() == 0);
}

TEST_CASE("an acceptor also accepts a key being rotated in or out") {
  auto pair = make_pair({key_of(2), {}}, {key_of(1), {key_of(2)}});
  exchange(pair);
  CHECK(pair.acceptor->state() == Handshake::State::established);
  CHECK(pair.acceptor->key_id() == key_of(2).id());
  CHECK(pair.dialer->state() == Handshake::State::established);
}

TEST_CASE("a forged key id without the key fails at the proof") {
  // The stranger copies the cluster's key id (it is public) but holds another key.
  auto honest = make_pair({key_of(1), {}}, {key_of(1), {}});
  auto hello = honest.dialer->take_output();
  Handshake acceptor(Role::acceptor, {key_of(1), {}}, Ephemeral::generate());
  Handshake stranger(Role::dialer, {key_of(9), {}}, Ephemeral::generate());
  auto forged = stranger.take_output();
  forged.replace(8, kKeyIdBytes, hello.substr(8, kKeyIdBytes));
  acceptor.feed(forged);
  REQUIRE(acceptor.state() == Handshake::State::in_progress);
  // The stranger cannot check the acceptor's proof (wrong key) and can only send a guess.
  auto answer = acceptor.take_output();
  stranger.feed(answer.substr(0, kHandshakeHelloBytes));
  CHECK(stranger.state() == Handshake::State::failed);  // it, too, sees another key id
  acceptor.feed(std::string(kHandshakeProofBytes, '\x5a'));
  CHECK(acceptor.state() == Handshake::State::failed);
  CHECK_THAT(acceptor.failure(), Catch::Contains("failed to prove the cluster key"));
}

TEST_CASE("a dialer refuses an acceptor that cannot prove the key") {
  Handshake dialer(Role::dialer, {key_of(1), {}}, Ephemeral::generate());
  Handshake impostor(Role::dialer, {key_of(1), {}}, Ephemeral::generate());  // a valid-looking HELLO
  dialer.take_output();
  dialer.feed(impostor.take_output());
  REQUIRE(dialer.state() == Handshake::State::in_progress);
  dialer.feed(std::string(kHandshakeProofBytes, '\0'));
  CHECK(dialer.state() == Handshake::State::failed);
  CHECK(dialer.take_output().empty());  // it never proves its own key to an impostor
}

TEST_CASE("a recorded handshake replayed to a new acceptor is refused") {
  auto recorded = make_pair({key_of(1), {}}, {key_of(1), {}});
  exchange(recorded);
  REQUIRE(recorded.acceptor->state() == Handshake::State::established);
  Handshake fresh(Role::acceptor, {key_of(1), {}}, Ephemeral::generate());
  fresh.feed(recorded.to_acceptor);
  CHECK(fresh.state() == Handshake::State::failed);
  CHECK_THAT(fresh.failure(), Catch::Contains("failed to prove"));
}

TEST_CASE("any altered byte of either side's messages breaks the handshake") {
  for (std::size_t at = 0; at < kHandshakeHelloBytes + kHandshakeProofBytes; ++at) {
    for (bool alter_dialer : {true, false}) {
      auto pair = make_pair({key_of(1), {}}, {key_of(1), {}});
      auto hello = pair.dialer->take_output();
      if (alter_dialer && at < hello.size()) hello[at] ^= 0x01;
      pair.acceptor->feed(hello);
      auto answer = pair.acceptor->take_output();
      if (!alter_dialer && at < answer.size()) answer[at] ^= 0x01;
      pair.dialer->feed(answer);
      auto proof = pair.dialer->take_output();
      if (alter_dialer && at >= kHandshakeHelloBytes) proof[at - kHandshakeHelloBytes] ^= 0x01;
      pair.acceptor->feed(proof);
      bool altered_header = at >= kHandshakeHelloBytes + 32;  // the record header, not the MAC
      if (altered_header) {
        // A changed record header derails the record stream instead: the first record fails.
        auto& sender = alter_dialer ? pair.dialer : pair.acceptor;
        auto& receiver = alter_dialer ? pair.acceptor : pair.dialer;
        REQUIRE(sender->state() == Handshake::State::established);
        REQUIRE(receiver->state() == Handshake::State::established);
        auto from = sender->take_session();
        auto to = receiver->take_session();
        CHECK(refused(to.opener, from.sealer.seal("hello")));
      } else {
        CHECK((pair.dialer->state() == Handshake::State::failed ||
               pair.acceptor->state() == Handshake::State::failed));
        CHECK_FALSE((pair.dialer->state() == Handshake::State::established &&
                     pair.acceptor->state() == Handshake::State::established));
      }
    }
  }
}

TEST_CASE("a plain frame or another protocol is told apart from the keyed handshake") {
  Handshake acceptor(Role::acceptor, {key_of(1), {}}, Ephemeral::generate());
  std::string plain = std::string("\0\0\0\x40", 4) + "{\"type\":\"HELLO\",\"from\":\"a\"}" + std::string(20, ' ');
  acceptor.feed(plain);
  CHECK(acceptor.state() == Handshake::State::failed);
  CHECK_THAT(acceptor.failure(), Catch::Contains("does not open with the keyed handshake"));

  Handshake later(Role::acceptor, {key_of(1), {}}, Ephemeral::generate());
  Handshake dialer(Role::dialer, {key_of(1), {}}, Ephemeral::generate());
  auto hello = dialer.take_output();
  hello[4] = 2;
  later.feed(hello);
  CHECK_THAT(later.failure(), Catch::Contains("version 2"));
}

TEST_CASE("an all-zero (low-order) ephemeral key is refused") {
  Handshake dialer(Role::dialer, {key_of(1), {}}, Ephemeral::generate());
  Handshake acceptor(Role::acceptor, {key_of(1), {}}, Ephemeral::generate());
  auto hello = dialer.take_output();
  std::fill(hello.begin() + 16, hello.end(), '\0');
  acceptor.feed(hello);
  CHECK(acceptor.state() == Handshake::State::failed);
  CHECK_THAT(acceptor.failure(), Catch::Contains("ephemeral key is invalid"));
  CHECK(acceptor.take_output().empty());
}

TEST_CASE("records replayed, reordered, dropped, altered or sent the wrong way are refused") {
  auto pair = make_pair({key_of(3), {}}, {key_of(3), {}});
  exchange(pair);
  auto d = pair.dialer->take_session();
  auto a = pair.acceptor->take_session();
  auto first = d.sealer.seal("one");
  auto second = d.sealer.seal("two");
  auto third = d.sealer.seal("three");

  SECTION("replayed") {
    CHECK(open_one(a.opener, first) == "one");
    CHECK(refused(a.opener, first));
  }
  SECTION("reordered") { CHECK(refused(a.opener, second)); }
  SECTION("dropped") {
    CHECK(open_one(a.opener, first) == "one");
    CHECK(refused(a.opener, third));
  }
  SECTION("reflected back to its sender") { CHECK(refused(d.opener, first)); }
  SECTION("a failure is final") {
    CHECK(refused(a.opener, second));
    CHECK(refused(a.opener, first));
  }
}

TEST_CASE("every altered byte of a record is caught") {
  const std::string body = "{\"type\":\"PAUSE_REQUEST\",\"frame\":1234}";
  for (std::size_t at = 0; at < 4 + body.size() + kRecordOverhead; ++at) {
    auto pair = make_pair({key_of(4), {}}, {key_of(4), {}});
    exchange(pair);
    auto d = pair.dialer->take_session();
    auto a = pair.acceptor->take_session();
    auto record = d.sealer.seal(body);
    record[at] ^= 0x04;
    a.opener.feed(record);
    auto result = a.opener.next();
    // A changed length prefix may leave the opener waiting for bytes that never come; any other
    // change fails authentication. Never is an altered record opened.
    CHECK_FALSE(std::holds_alternative<Frame>(result));
    if (at >= 4) CHECK(std::holds_alternative<FrameError>(result));
  }
}
