#include <catch2/catch.hpp>

#include "chorus/net/mdns_record.hpp"

using namespace chorus::net;

namespace {

ServiceRecord record_of(std::string id) {
  ServiceRecord record;
  record.cluster = "home";
  record.version = chorus::protocol::kProtocolVersion;
  record.node_id = std::move(id);
  record.priority = 7;
  record.key_id = "";
  return record;
}

LocalIdentity me() {
  LocalIdentity self;
  self.cluster = "home";
  self.version = chorus::protocol::kProtocolVersion;
  self.node_id = "kitchen";
  self.key_ids = {};
  return self;
}

Sighting sighting_of(const ServiceRecord& record, std::string address = "192.168.1.20",
                     int port = 7600) {
  return Sighting{encode_txt(record), std::move(address), "eth0", port};
}

std::vector<std::string> without(std::vector<std::string> entries, const std::string& prefix) {
  std::erase_if(entries, [&](const std::string& e) { return e.rfind(prefix, 0) == 0; });
  return entries;
}

}  // namespace

TEST_CASE("mdns record: encode then decode gives the record back", "[mdns]") {
  auto open = record_of("living room");
  CHECK(decode_txt(encode_txt(open)).record == open);
  auto keyed = record_of("ünïcode-node");
  keyed.key_id = "0123456789abcdef";
  keyed.priority = -3;
  CHECK(decode_txt(encode_txt(keyed)).record == keyed);
  CHECK(encode_txt(open).size() == 4);
  CHECK(encode_txt(keyed).size() == 5);
}

TEST_CASE("mdns record: a missing key is refused, naming it", "[mdns]") {
  auto entries = encode_txt(record_of("a"));
  for (std::string key : {"cluster", "version", "id", "priority"}) {
    auto decoded = decode_txt(without(entries, key + "="));
    CHECK_FALSE(decoded.record);
    CHECK(decoded.problem.find(key) != std::string::npos);
  }
  CHECK_FALSE(decode_txt({}).record);
}

TEST_CASE("mdns record: repeated keys, overlong entries, bad numbers and bad text are refused",
          "[mdns]") {
  auto entries = encode_txt(record_of("a"));
  auto repeated = entries;
  repeated.push_back("id=b");
  CHECK(decode_txt(repeated).problem.find("repeated") != std::string::npos);

  auto overlong = entries;
  overlong.push_back("x=" + std::string(254, 'y'));  // 256 bytes
  CHECK_FALSE(decode_txt(overlong).record);
  auto longest = entries;
  longest.push_back("x=" + std::string(253, 'y'));   // 255 bytes: allowed
  CHECK(decode_txt(longest).record);

  for (std::string bad : {"version=", "version=4x", "version= 4", "version=99999999999999999999",
                          "version=0x4", "priority=1.5", "priority=--1"}) {
    auto edited = without(entries, bad.substr(0, bad.find('=') + 1));
    edited.push_back(bad);
    INFO(bad);
    CHECK_FALSE(decode_txt(edited).record);
  }
  for (std::string bad : {std::string("id="), std::string("id=\xff\xfe"), std::string("id=a\nb"),
                          std::string("cluster=\x1b[2J"), std::string("cluster=")}) {
    auto edited = without(entries, bad.substr(0, bad.find('=') + 1));
    edited.push_back(bad);
    INFO(bad);
    CHECK_FALSE(decode_txt(edited).record);
  }
  for (std::string bad : {"key=0123", "key=0123456789ABCDEF", "key=0123456789abcdeg",
                          "key=0123456789abcdef0"}) {
    auto edited = entries;
    edited.push_back(bad);
    INFO(bad);
    CHECK_FALSE(decode_txt(edited).record);
  }
}

TEST_CASE("mdns record: entries that are not key=value, and unknown keys, are ignored", "[mdns]") {
  auto entries = encode_txt(record_of("a"));
  entries.push_back("flag-without-value");
  entries.push_back("=nameless");
  entries.push_back("future=1");
  entries.push_back(std::string("bin=\0\xff", 6));
  CHECK(decode_txt(entries).record == record_of("a"));
}

TEST_CASE("mdns decision: a member of this cluster is dialled at its address and port", "[mdns]") {
  auto decision = decide(me(), sighting_of(record_of("bedroom")));
  REQUIRE(decision.verdict == Verdict::dial);
  REQUIRE(decision.member);
  CHECK(decision.member->id == "bedroom");
  CHECK(decision.member->priority == 7);
  CHECK(decision.member->endpoint == chorus::protocol::Endpoint{"192.168.1.20", 7600});
  CHECK_FALSE(decision.ipv6);
}

TEST_CASE("mdns decision: own, other cluster, other version and other key are not dialled", "[mdns]") {
  CHECK(decide(me(), sighting_of(record_of("kitchen"))).verdict == Verdict::own);
  auto other = record_of("b");
  other.cluster = "neighbours";
  CHECK(decide(me(), sighting_of(other)).verdict == Verdict::other_cluster);
  other = record_of("b");
  other.cluster = "Home";  // names are compared exactly, as the handshake does
  CHECK(decide(me(), sighting_of(other)).verdict == Verdict::other_cluster);
  other = record_of("b");
  other.version = chorus::protocol::kProtocolVersion + 1;
  CHECK(decide(me(), sighting_of(other)).verdict == Verdict::other_version);
  other.version = chorus::protocol::kProtocolVersion - 1;
  CHECK(decide(me(), sighting_of(other)).verdict == Verdict::other_version);

  auto keyed = record_of("b");
  keyed.key_id = "00112233445566aa";
  CHECK(decide(me(), sighting_of(keyed)).verdict == Verdict::other_key);  // open node, keyed peer
  auto keyed_me = me();
  keyed_me.key_ids = {"00112233445566aa"};
  CHECK(decide(keyed_me, sighting_of(record_of("b"))).verdict == Verdict::other_key);  // keyed, open peer
  CHECK(decide(keyed_me, sighting_of(keyed)).verdict == Verdict::dial);
  keyed_me.key_ids = {"ffffffffffffffff", "00112233445566aa"};  // a key being rotated in
  CHECK(decide(keyed_me, sighting_of(keyed)).verdict == Verdict::dial);
  keyed_me.key_ids = {"ffffffffffffffff"};
  CHECK(decide(keyed_me, sighting_of(keyed)).verdict == Verdict::other_key);
}

TEST_CASE("mdns decision: ports out of range and unusable addresses are malformed", "[mdns]") {
  for (int port : {0, -1, 65536, 1 << 20}) {
    INFO(port);
    CHECK(decide(me(), sighting_of(record_of("b"), "10.0.0.1", port)).verdict == Verdict::malformed);
  }
  CHECK(decide(me(), sighting_of(record_of("b"), "10.0.0.1", 1)).verdict == Verdict::dial);
  CHECK(decide(me(), sighting_of(record_of("b"), "10.0.0.1", 65535)).verdict == Verdict::dial);
  for (std::string address : {"", "host.local", "0.0.0.0", "::", "224.0.0.251", "ff02::fb",
                              "10.0.0.1%eth0x", "1.2.3.4.5"}) {
    INFO(address);
    CHECK(decide(me(), sighting_of(record_of("b"), address)).verdict == Verdict::malformed);
  }
  auto malformed = sighting_of(record_of("b"));
  malformed.txt.pop_back();
  auto decision = decide(me(), malformed);
  CHECK(decision.verdict == Verdict::malformed);
  CHECK_FALSE(decision.problem.empty());
  CHECK_FALSE(decision.member);
}

TEST_CASE("mdns decision: IPv6 addresses, link-local ones with their interface", "[mdns]") {
  auto global = decide(me(), sighting_of(record_of("b"), "2001:db8::5"));
  REQUIRE(global.verdict == Verdict::dial);
  CHECK(global.ipv6);
  CHECK(global.member->endpoint.host == "2001:db8::5");

  auto link_local = decide(me(), sighting_of(record_of("b"), "fe80::1"));
  REQUIRE(link_local.verdict == Verdict::dial);
  CHECK(link_local.member->endpoint.host == "fe80::1%eth0");

  auto no_scope = sighting_of(record_of("b"), "fe80::1");
  no_scope.interface = "";
  CHECK(decide(me(), no_scope).verdict == Verdict::malformed);
  no_scope.interface = "eth0%1";
  CHECK(decide(me(), no_scope).verdict == Verdict::malformed);

  auto mapped = decide(me(), sighting_of(record_of("b"), "::ffff:10.1.2.3"));
  REQUIRE(mapped.verdict == Verdict::dial);
  CHECK_FALSE(mapped.ipv6);
  CHECK(mapped.member->endpoint.host == "10.1.2.3");
}

TEST_CASE("mdns decision: IPv4 is preferred over IPv6 for the same member", "[mdns]") {
  CHECK(passed_over(/*current_ipv6=*/false, /*candidate_ipv6=*/true));
  CHECK_FALSE(passed_over(false, false));  // the same family again: a re-announcement, used
  CHECK_FALSE(passed_over(true, false));
  CHECK_FALSE(passed_over(true, true));
}

TEST_CASE("mdns decision: an id longer than a handshake allows is malformed", "[mdns]") {
  // 252 bytes fit one TXT entry with "id="; ids that long are valid, so only the entry bound applies.
  auto long_id = record_of(std::string(252, 'n'));
  CHECK(decide(me(), sighting_of(long_id)).verdict == Verdict::dial);
  auto too_long = record_of(std::string(253, 'n'));
  CHECK(decide(me(), sighting_of(too_long)).verdict == Verdict::malformed);
}

TEST_CASE("mdns verdicts have names", "[mdns]") {
  for (auto verdict : {Verdict::dial, Verdict::own, Verdict::other_cluster, Verdict::other_version,
                       Verdict::other_key, Verdict::malformed}) {
    CHECK(std::string(to_string(verdict)).size() > 2);
  }
}
