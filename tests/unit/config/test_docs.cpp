// docs/configuration.md against the option table: its key table lists every key with the TOML
// type and default the node really has, and its example file is one the node accepts.

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "chorus/config/node_options.hpp"
#include "chorus/config/toml_config.hpp"

using chorus::config::NodeCommandLine;

namespace {

std::string read_docs() {
  std::ifstream in(std::string(CHORUS_SOURCE_DIR) + "/docs/configuration.md");
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trimmed(const std::string& text) {
  const auto first = text.find_first_not_of(' ');
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(' ') - first + 1);
}

struct Row {
  std::string type;
  std::string default_value;
};

/// The rows "| `key` | type | `default` | meaning |" of the key table.
std::map<std::string, Row> key_table(const std::string& docs) {
  std::map<std::string, Row> rows;
  std::istringstream lines(docs);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::istringstream parts(line.substr(1));
    std::string cell;
    while (std::getline(parts, cell, '|')) cells.push_back(trimmed(cell));
    REQUIRE(cells.size() >= 4);
    const auto unquoted = [](const std::string& text) {
      return text.size() >= 2 && text.front() == '`' ? text.substr(1, text.size() - 2) : text;
    };
    rows[unquoted(cells[0])] = Row{cells[1], unquoted(cells[2])};
  }
  return rows;
}

/// The text of the first ```toml block.
std::string toml_example(const std::string& docs) {
  const auto start = docs.find("```toml\n");
  REQUIRE(start != std::string::npos);
  const auto body = start + 8;
  return docs.substr(body, docs.find("```", body) - body);
}

}  // namespace

TEST_CASE("docs/configuration.md lists every key with its real type and default", "[config][docs]") {
  const auto rows = key_table(read_docs());
  NodeCommandLine command_line("");
  std::size_t settings = 0;
  for (const auto* option : command_line.app().get_options()) {
    if (!option->get_configurable()) continue;
    ++settings;
    const auto key = chorus::config::config_key(*option);
    INFO("key " << key);
    REQUIRE(rows.count(key) == 1);
    CHECK(rows.at(key).type == chorus::config::toml_value_type(*option));
    CHECK(rows.at(key).default_value == option->get_default_str());
  }
  CHECK(rows.size() == settings);  // no row for a key the node does not have
}

TEST_CASE("docs/configuration.md's example is a file the node accepts", "[config][docs]") {
  NodeCommandLine checker("");
  const auto items = chorus::config::read_config(toml_example(read_docs()),
                                                 "/etc/chorus/chorus.toml", checker.app());
  CHECK(items.size() >= 10);
}
