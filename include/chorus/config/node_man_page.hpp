// The node's man page, chorus-node(1), written in roff from the same CLI11 App as --help and the
// configuration file, with the prompt's commands from the command parser's table: it cannot
// describe an option the node does not have.
#pragma once

#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace chorus::config {

/// Text for a roff text line: backslashes and hyphens escaped, and a '.' or '\'' that would start
/// a line guarded, so that no text is read as a request.
std::string roff_escape(std::string_view text);

/// The configuration file shown in the man page's example (every key in it is a real one: the
/// tests read it with read_config()).
std::string_view example_config();

/// chorus-node(1) for the node whose options `app` holds; `version` goes in the page's footer.
std::string node_man_page(const CLI::App& app, std::string_view version);

}  // namespace chorus::config
