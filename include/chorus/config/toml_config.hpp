// The configuration file: TOML (read with toml++) whose keys are an App's options
// (docs/configuration.md). read_config() checks the whole file against the App's option table
// before CLI11 sees any of it, so that every error names the file, the line and the key; CLI11
// then applies the items as it would its own config file, the command line winning.
#pragma once

#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

namespace chorus::config {

/// A configuration file the node refuses. what(): "FILE:LINE: key "KEY": problem", or
/// "FILE:LINE:COLUMN: problem" for a TOML syntax error.
class ConfigFileError : public CLI::ConfigError {
 public:
  explicit ConfigFileError(std::string message) : CLI::ConfigError(std::move(message)) {}
};

/// The key an option has in a configuration file: its first long name without the dashes, or a
/// positional's name. Empty for an option with neither.
std::string config_key(const CLI::Option& option);

/// The option whose config_key() is `key`, or nullptr.
const CLI::Option* option_for_key(const CLI::App& app, std::string_view key);
CLI::Option* option_for_key(CLI::App& app, std::string_view key);

/// Whether an option's value is a path (its value name is PATH): a relative path in a file is
/// taken relative to the file's directory, and a leading "~" is refused (TOML does not expand it).
bool takes_path(const CLI::Option& option);

/// The option's value name (INT, UINT, FLOAT, TEXT, PATH, HOST PORT ...) without the validators'
/// descriptions CLI11 appends after ':'.
std::string value_name(const CLI::Option& option);

/// What the option's key takes in TOML, e.g. "boolean", "integer", "array of strings".
std::string toml_value_type(const CLI::Option& option);

/// Reads the TOML text of the configuration file `file` into CLI11 config items for `checker`'s
/// options, or throws ConfigFileError at the first problem (in file order): a syntax error (a key
/// given twice is one), an unknown key, a key that is not a setting (--config, --gen-key, ...), a
/// table or a value of the wrong type, or a value the option's own checks refuse. Those checks
/// run on `checker`, whose bound variables they overwrite: give it an App of its own, built by the
/// same option table as the one the items are for.
std::vector<CLI::ConfigItem> read_config(std::string_view text, const std::string& file,
                                         CLI::App& checker);

/// CLI11's config formatter for the configuration file (App::config_formatter): reads it with
/// read_config() on a fresh App from `make_checker`, and learns the file's name from `app`'s
/// config option (CLI11 gives a formatter only the stream).
///
/// A refused file gives CLI11 no items; the problem is kept for check_after_parse(). Thrown from
/// inside CLI11 it would win over --help, and CLI11 silently drops any error of a default file
/// (one not named by --config), as it drops a default file it cannot open.
class TomlConfig : public CLI::Config {
 public:
  using AppFactory = std::function<std::shared_ptr<CLI::App>()>;
  TomlConfig(const CLI::App& app, AppFactory make_checker);

  std::string to_config(const CLI::App* app, bool default_also, bool write_description,
                        std::string prefix) const override;
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;

  /// Call before App::parse.
  void reset() const;
  /// Call after App::parse: throws ConfigFileError if the file was refused, or if it exists but
  /// could not be read.
  void check_after_parse() const;

 private:
  std::string file_name() const;

  const CLI::App& app_;
  AppFactory make_checker_;
  // from_config() is const in CLI11's interface; these record what it saw.
  mutable bool read_ = false;
  mutable std::optional<ConfigFileError> problem_;
};

}  // namespace chorus::config
