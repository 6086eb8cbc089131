#include "chorus/config/node_man_page.hpp"

#include <fmt/format.h>

#include "chorus/cli/command.hpp"
#include "chorus/config/node_options.hpp"
#include "chorus/config/toml_config.hpp"

namespace chorus::config {
namespace {

constexpr std::string_view kExampleConfig =
    R"(# /etc/chorus/chorus.toml: a living-room node joining the cluster "home"
cluster = "home"
id = "living-room"
port = 7600
bootstrap = ["kitchen.local", 7600]
key-file = "chorus.key"          # relative: next to this file
tracks = "/srv/music"
output = "pulse"
latency-ms = 20
http-port = 6680
no-prompt = true
log-level = "info"
)";

std::string bold(std::string_view text) { return "\\fB" + roff_escape(text) + "\\fR"; }
std::string italic(std::string_view text) { return "\\fI" + roff_escape(text) + "\\fR"; }

/// "\fB\-\-cache\-mb\fR \fIUINT\fR" and the like: how the option is written.
std::string option_heading(const CLI::Option& option) {
  if (option.get_positional()) return italic(option.get_name(true, false));
  std::string names;
  for (const auto& name : option.get_snames()) names += (names.empty() ? "" : ", ") + bold("-" + name);
  for (const auto& name : option.get_lnames()) names += (names.empty() ? "" : ", ") + bold("--" + name);
  if (option.get_expected_max() == 0) return names;
  std::string value = value_name(option);
  if (option.get_expected_max() > option.get_expected_min()) value += " ...";
  return names + " " + italic(value);
}

/// The checks CLI11 describes after the value name, e.g. "INT in [16 - 16777216]".
std::string allowed_values(const CLI::Option& option) {
  const auto type = option.get_type_name();
  const auto colon = type.find(':');
  return colon == std::string::npos ? std::string() : type.substr(colon + 1);
}

std::string option_details(const CLI::App& app, const CLI::Option& option) {
  std::string text = roff_escape(option.get_description()) + ".\n";
  if (const auto allowed = allowed_values(option); !allowed.empty()) {
    text += "Values: " + roff_escape(allowed) + ".\n";
  }
  if (!option.get_default_str().empty()) {
    text += "Default: " + roff_escape(option.get_default_str()) + ".\n";
  }
  for (const auto* needed : option.get_needs()) {
    text += "Needs " + bold(needed->get_name()) + ".\n";
  }
  if (option.get_configurable()) {
    text += "Configuration key: " + bold(config_key(option)) + " (" +
            roff_escape(toml_value_type(option)) + ").\n";
  } else if (&option == app.get_config_ptr()) {
    text += "Command line only.\n";
  } else {
    text += "Command line only: an action, not a setting.\n";
  }
  return text;
}

std::string options_section(const CLI::App& app) {
  std::string text = ".SH OPTIONS\n";
  for (const auto* option : app.get_options()) {
    text += ".TP\n" + option_heading(*option) + "\n" + option_details(app, *option);
  }
  return text;
}

std::string configuration_section() {
  return ".SH CONFIGURATION FILE\n" +
         roff_escape(
             "Every setting can also be given in a TOML file. Its keys are the long options' "
             "names without the leading dashes (cache-mb for --cache-mb), and host and port for "
             "the two positional arguments. A flag is a TOML boolean (true or false), an option "
             "that takes several values a TOML array (bootstrap = [\"kitchen.local\", 7600]), "
             "and every other value a string or a number as the option says above.") +
         "\n.PP\n" +
         roff_escape(
             "Without --config the node reads /etc/chorus/chorus.toml when it is present; a "
             "missing default file is fine, but a file named by --config must exist. A value "
             "given on the command line wins over the file's, key by key. A relative path (an "
             "option whose value is a PATH) is taken from the file's directory; \"~\" is not "
             "expanded and is refused. --config, --gen-key, --show-access and --help cannot be "
             "keys: the first names the file itself and the others are actions, which would make "
             "every start of the node do them and exit.") +
         "\n.PP\n" +
         roff_escape(
             "An unknown key, a key given twice, a value of the wrong type or out of range, a "
             "table where a value belongs and a syntax error all stop the node before it starts, "
             "with a message naming the file, the line and the key, e.g.") +
         "\n.PP\n.RS\n" +
         roff_escape("/etc/chorus/chorus.toml:7: key \"cache-mb\": Value 5 not in range 16 to 16777216") +
         "\n.RE\n.PP\nAn example:\n.PP\n.RS\n.nf\n" + roff_escape(kExampleConfig) + ".fi\n.RE\n";
}

std::string prompt_section() {
  std::string text = ".SH PROMPT COMMANDS\n" +
                     roff_escape(
                         "Without --no-prompt the node reads commands on its standard input, one "
                         "a line; any member takes any command (a follower forwards playback "
                         "commands to the leader):") +
                     "\n";
  for (const auto& row : cli::command_table()) {
    const auto usage = cli::usage(row.kind);
    const auto space = usage.find(' ');
    text += ".TP\n" + bold(usage.substr(0, space));
    if (space != std::string::npos) text += " " + roff_escape(usage.substr(space + 1));
    text += "\n" + roff_escape(row.description);
    if (!row.alias.empty()) text += " (alias: " + bold(row.alias) + ")";
    text += ".\n";
  }
  return text;
}

constexpr std::string_view kDescription[] = {
    "chorus plays music in step on every speaker of a local network. Each machine runs one "
    "chorus-node; the nodes form a cluster over TCP, elect a leader (the highest priority, then "
    "id, wins), share each other's tracks and follow the leader's clock, so that every room "
    "hears the same sample at the same moment.",
    "A node serves its own music directory (--tracks) to the others, fetches the tracks it lacks "
    "into its cache, and plays to a sound server, ALSA, SDL, a file or nothing. It is driven "
    "from its prompt, from MPD clients (--mpd-port) or from its web page (--http-port). With "
    "--key-file only nodes holding the cluster key can join and every link is encrypted. With "
    "--no-prompt it runs as a service until it is told to stop.",
};

}  // namespace

std::string roff_escape(std::string_view text) {
  std::string out;
  bool line_start = true;
  for (const char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    line_start = c == '\n';
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  return out;
}

std::string_view example_config() { return kExampleConfig; }

std::string node_man_page(const CLI::App& app, std::string_view version) {
  std::string page = fmt::format(".TH CHORUS\\-NODE 1 \"\" \"chorus {}\" \"User Commands\"\n",
                                 roff_escape(version));
  page += ".SH NAME\nchorus\\-node \\- synchronized audio playback across a cluster of peers\n";
  page += ".SH SYNOPSIS\n.B chorus\\-node\n[\\fIOPTIONS\\fR] [\\fIhost\\fR [\\fIport\\fR]]\n";
  page += ".SH DESCRIPTION\n" + roff_escape(kDescription[0]) + "\n.PP\n" +
          roff_escape(kDescription[1]) + "\n";
  page += options_section(app);
  page += configuration_section();
  page += prompt_section();
  page += ".SH SIGNALS\n.TP\n.B SIGTERM\n.TQ\n.B SIGINT\n" +
          roff_escape("The node leaves the cluster gracefully (its peers see it leave, not fail) "
                      "and exits with status 0.") +
          "\n";
  page += ".SH ENVIRONMENT\n.TP\n.B CHORUS_DEFAULT_CONFIG\n" +
          roff_escape("Names another default configuration file; set but empty, none is read. "
                      "For tests, which must not depend on /etc.") +
          "\n.TP\n.B XDG_CACHE_HOME\n" +
          roff_escape("Where the default cache directory is made (chorus/ID in it).") + "\n";
  page += ".SH FILES\n.TP\n.I /etc/chorus/chorus.toml\n" +
          roff_escape("The configuration file read when no --config is given.") +
          "\n.TP\n.I $XDG_CACHE_HOME/chorus/ID\n" +
          roff_escape("The default cache directory (--cache-dir): tracks fetched from peers and "
                      "the library index (library.sqlite).") +
          "\n";
  page += ".SH SEE ALSO\n.BR mpc (1),\n.BR systemctl (1).\n" +
          roff_escape("The documentation in the source tree's docs/ directory: configuration.md, "
                      "architecture.md, security.md, mpd.md, web.md.") +
          "\n";
  return page;
}

}  // namespace chorus::config
