// chorus-node(1): written from the node's option table, so every option and every prompt command
// is in it; roff specials in the text are escaped; its example configuration is a valid file.

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "chorus/cli/command.hpp"
#include "chorus/config/node_man_page.hpp"
#include "chorus/config/node_options.hpp"
#include "chorus/config/toml_config.hpp"

using chorus::config::NodeCommandLine;
using chorus::config::config_key;
using chorus::config::roff_escape;

namespace {

std::string page() {
  NodeCommandLine command_line(chorus::config::kDefaultConfigPath);
  return chorus::config::node_man_page(command_line.app(), "1.2.3");
}

/// The lines that follow ".TP": each option's (or command's) heading.
std::vector<std::string> headings(const std::string& text) {
  std::vector<std::string> found;
  for (auto at = text.find(".TP\n"); at != std::string::npos; at = text.find(".TP\n", at + 1)) {
    const auto start = at + 4;
    found.push_back(text.substr(start, text.find('\n', start) - start));
  }
  return found;
}

bool has_heading_with(const std::string& text, const std::string& part) {
  const auto all = headings(text);
  return std::any_of(all.begin(), all.end(), [&](const std::string& heading) {
    return heading.find(part) != std::string::npos;
  });
}

}  // namespace

TEST_CASE("roff_escape guards requests, backslashes and hyphens", "[config][man]") {
  CHECK(roff_escape("--cache-mb") == "\\-\\-cache\\-mb");
  CHECK(roff_escape("a\\b") == "a\\eb");
  CHECK(roff_escape(".TH x") == "\\&.TH x");
  CHECK(roff_escape("'x") == "\\&'x");
  CHECK(roff_escape("one\n.two\n'three") == "one\n\\&.two\n\\&'three");
  CHECK(roff_escape("a.b 'c'") == "a.b 'c'");
  CHECK(roff_escape("") == "");
}

TEST_CASE("the man page has every option of the node's App, with its key", "[config][man]") {
  const auto text = page();
  NodeCommandLine command_line("");
  for (const auto* option : command_line.app().get_options()) {
    INFO("option " << option->get_name());
    for (const auto& name : option->get_lnames()) {
      CHECK(has_heading_with(text, "\\fB" + roff_escape("--" + name) + "\\fR"));
    }
    if (option->get_positional()) {
      CHECK(has_heading_with(text, "\\fI" + option->get_name(true, false) + "\\fR"));
    }
    if (option->get_configurable()) {
      CHECK_THAT(text, Catch::Contains("Configuration key: \\fB" + roff_escape(config_key(*option)) +
                                       "\\fR"));
    }
  }
}

TEST_CASE("the man page has its sections and every prompt command", "[config][man]") {
  const auto text = page();
  CHECK_THAT(text, Catch::StartsWith(".TH CHORUS\\-NODE 1 \"\" \"chorus 1.2.3\""));
  for (const char* section : {"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "CONFIGURATION FILE",
                              "PROMPT COMMANDS", "SIGNALS", "ENVIRONMENT", "FILES", "SEE ALSO"}) {
    CHECK_THAT(text, Catch::Contains(std::string("\n.SH ") + section + "\n"));
  }
  for (const auto& row : chorus::cli::command_table()) {
    CHECK(has_heading_with(text, "\\fB" + roff_escape(row.name) + "\\fR"));
  }
  CHECK_THAT(text, Catch::Contains("/etc/chorus/chorus.toml"));
  CHECK_THAT(text, Catch::Contains("SIGTERM"));
}

TEST_CASE("no line of the man page starts a request by accident", "[config][man]") {
  // Every request the writer means is one of these; anything else is text that slipped through.
  const std::vector<std::string> requests{".TH ", ".SH ", ".TP", ".TQ", ".PP", ".RS", ".RE",
                                          ".nf", ".fi", ".B ", ".I ", ".BR "};
  const auto text = page();
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    const auto line = text.substr(start, end - start);
    start = end == std::string::npos ? text.size() : end + 1;
    if (line.empty() || (line[0] != '.' && line[0] != '\'')) continue;
    INFO("line: " << line);
    CHECK(std::any_of(requests.begin(), requests.end(),
                      [&](const std::string& request) { return line.rfind(request, 0) == 0; }));
  }
}

TEST_CASE("the man page's example configuration is a valid file", "[config][man]") {
  NodeCommandLine checker("");
  const auto items = chorus::config::read_config(chorus::config::example_config(),
                                                 "/etc/chorus/chorus.toml", checker.app());
  CHECK(items.size() >= 10);
  CHECK_THAT(page(), Catch::Contains(roff_escape("bootstrap = [\"kitchen.local\", 7600]")));
}
