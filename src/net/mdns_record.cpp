#include "chorus/net/mdns_record.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>

#include "chorus/protocol/inert_text.hpp"

namespace chorus::net {

namespace {

constexpr std::string_view kCluster = "cluster";
constexpr std::string_view kVersion = "version";
constexpr std::string_view kId = "id";
constexpr std::string_view kPriority = "priority";
constexpr std::string_view kKey = "key";
constexpr std::size_t kKeyIdHexDigits = 16;

std::optional<std::int64_t> parse_integer(std::string_view text) {
  std::int64_t value = 0;
  const auto* end = text.data() + text.size();
  auto [rest, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || rest != end) return std::nullopt;
  return value;
}

bool is_lower_hex(std::string_view text) {
  return text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

/// Splits "key=value" entries into a map; a repeated or unnamed key, or an overlong entry, is a problem.
std::string split_entries(const std::vector<std::string>& entries,
                          std::map<std::string_view, std::string_view>& fields) {
  for (const auto& entry : entries) {
    if (entry.size() > kMaxTxtEntryBytes) return "a TXT entry is longer than 255 bytes";
    auto equals = entry.find('=');
    if (equals == 0 || equals == std::string::npos) continue;  // not ours (RFC 6763: ignore)
    std::string_view view(entry);
    if (!fields.emplace(view.substr(0, equals), view.substr(equals + 1)).second) {
      return fmt::format("TXT key '{}' is repeated", protocol::inert(view.substr(0, equals), 32));
    }
  }
  return {};
}

std::string check_text(std::string_view name, std::string_view value) {
  if (value.empty()) return fmt::format("TXT '{}' is empty", name);
  if (!protocol::is_inert(value)) return fmt::format("TXT '{}' is not printable UTF-8", name);
  return {};
}

}  // namespace

std::vector<std::string> encode_txt(const ServiceRecord& record) {
  std::vector<std::string> entries{
      fmt::format("{}={}", kCluster, record.cluster),
      fmt::format("{}={}", kVersion, record.version),
      fmt::format("{}={}", kId, record.node_id),
      fmt::format("{}={}", kPriority, record.priority),
  };
  if (!record.key_id.empty()) entries.push_back(fmt::format("{}={}", kKey, record.key_id));
  return entries;
}

DecodedTxt decode_txt(const std::vector<std::string>& entries) {
  std::map<std::string_view, std::string_view> fields;
  if (auto problem = split_entries(entries, fields); !problem.empty()) return {std::nullopt, problem};
  ServiceRecord record;
  for (auto name : {kCluster, kVersion, kId, kPriority}) {
    if (!fields.count(name)) return {std::nullopt, fmt::format("TXT '{}' is missing", name)};
  }
  for (auto name : {kCluster, kId}) {
    if (auto problem = check_text(name, fields[name]); !problem.empty()) return {std::nullopt, problem};
  }
  record.cluster = fields[kCluster];
  record.node_id = fields[kId];
  auto version = parse_integer(fields[kVersion]);
  auto priority = parse_integer(fields[kPriority]);
  if (!version) return {std::nullopt, "TXT 'version' is not a number"};
  if (!priority) return {std::nullopt, "TXT 'priority' is not a number"};
  record.version = *version;
  record.priority = *priority;
  if (auto key = fields.find(kKey); key != fields.end()) {
    if (key->second.size() != kKeyIdHexDigits || !is_lower_hex(key->second)) {
      return {std::nullopt, "TXT 'key' is not 16 lower-case hex digits"};
    }
    record.key_id = key->second;
  }
  return {record, {}};
}

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::dial: return "dial";
    case Verdict::own: return "own announcement";
    case Verdict::other_cluster: return "another cluster";
    case Verdict::other_version: return "another protocol version";
    case Verdict::other_key: return "another cluster key";
    case Verdict::malformed: return "malformed";
  }
  return "malformed";
}

namespace {

Decision refused(Verdict verdict, std::string problem = {}) {
  return Decision{verdict, std::move(problem), std::nullopt, false};
}

/// The host to dial for a resolved address: a link-local IPv6 address needs its interface.
std::optional<std::string> dial_host(const Sighting& sighting, bool& ipv6, std::string& problem) {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(sighting.address, ec);
  if (ec) {
    problem = "address is not numeric";
    return std::nullopt;
  }
  if (address.is_unspecified() || address.is_multicast()) {
    problem = "address is not a host's";
    return std::nullopt;
  }
  ipv6 = address.is_v6();
  if (!ipv6) return address.to_string();
  auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) {
    ipv6 = false;
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  }
  if (!v6.is_link_local()) return v6.to_string();
  if (sighting.interface.empty() || !protocol::is_inert(sighting.interface) ||
      sighting.interface.find('%') != std::string::npos) {
    problem = "link-local IPv6 address without an interface";
    return std::nullopt;
  }
  v6.scope_id(0);
  return v6.to_string() + "%" + sighting.interface;
}

}  // namespace

Decision decide(const LocalIdentity& self, const Sighting& sighting) {
  auto decoded = decode_txt(sighting.txt);
  if (!decoded.record) return refused(Verdict::malformed, decoded.problem);
  const auto& record = *decoded.record;
  if (record.node_id.size() > protocol::kMaxIdBytes) return refused(Verdict::malformed, "id too long");
  if (record.node_id == self.node_id) return refused(Verdict::own);
  if (record.cluster != self.cluster) return refused(Verdict::other_cluster);
  if (record.version != self.version) return refused(Verdict::other_version);
  bool keyed_alike = record.key_id.empty()
                         ? self.key_ids.empty()
                         : std::find(self.key_ids.begin(), self.key_ids.end(), record.key_id) !=
                               self.key_ids.end();
  if (!keyed_alike) return refused(Verdict::other_key);
  if (sighting.port < 1 || sighting.port > 65535) return refused(Verdict::malformed, "port out of range");
  Decision decision = refused(Verdict::dial);
  auto host = dial_host(sighting, decision.ipv6, decision.problem);
  if (!host) return refused(Verdict::malformed, decision.problem);
  decision.member = protocol::Member{record.node_id, record.priority,
                                     protocol::Endpoint{*host, static_cast<std::uint16_t>(sighting.port)}};
  return decision;
}

bool passed_over(bool current_ipv6, bool candidate_ipv6) { return !current_ipv6 && candidate_ipv6; }

}  // namespace chorus::net
