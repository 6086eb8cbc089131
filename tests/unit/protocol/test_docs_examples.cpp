// docs/protocol.md is the reference: its JSON examples must be what the codec accepts.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "chorus/protocol/codec.hpp"
#include "protocol/samples.hpp"

using namespace chorus::protocol;
using namespace chorus::protocol::test;

namespace {

/// The bodies of the ```json blocks of a markdown file.
std::vector<std::string> json_blocks(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::string> blocks;
  std::string line;
  std::string* current = nullptr;
  while (std::getline(in, line)) {
    if (current == nullptr && line == "```json") {
      current = &blocks.emplace_back();
    } else if (current != nullptr && line == "```") {
      current = nullptr;
    } else if (current != nullptr) {
      *current += line + "\n";
    }
  }
  return blocks;
}

}  // namespace

TEST_CASE("every JSON example in docs/protocol.md decodes") {
  // This file is tests/unit/protocol/<name>.cpp in the source tree.
  const auto doc = std::filesystem::path(__FILE__).parent_path() / "../../../docs/protocol.md";
  INFO(doc.string());
  REQUIRE(std::filesystem::exists(doc));
  const auto blocks = json_blocks(doc);
  std::set<std::string_view> types;
  for (const std::string& block : blocks) {
    INFO(block);
    const Message message = decode_ok(block);
    types.insert(type_name(message));
    CHECK(decode_ok(encode(message)) == message);
  }
  CHECK(types.size() == std::variant_size_v<Message>);  // one example at least per type
}
