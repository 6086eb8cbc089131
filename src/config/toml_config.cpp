#include "chorus/config/toml_config.hpp"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

namespace chorus::config {
namespace {

/// What a TOML value must be for an option.
enum class ValueKind { flag, scalar, array };
/// What each of its values must be.
enum class ElementKind { integer, number, string, string_or_integer };

struct KeyProblem {
  std::string text;
};

ValueKind value_kind(const CLI::Option& option) {
  if (option.get_expected_max() == 0) return ValueKind::flag;
  if (option.get_expected_max() > 1) return ValueKind::array;
  return ValueKind::scalar;
}

ElementKind element_kind(const CLI::Option& option) {
  const auto name = value_name(option);
  if (name == "INT" || name == "UINT") return ElementKind::integer;
  if (name == "FLOAT") return ElementKind::number;
  if (name == "TEXT" || name == "PATH") return ElementKind::string;
  return ElementKind::string_or_integer;  // e.g. --bootstrap's HOST PORT
}

const char* describe(ElementKind kind) {
  switch (kind) {
    case ElementKind::integer: return "an integer";
    case ElementKind::number: return "a number";
    case ElementKind::string: return "a string";
    case ElementKind::string_or_integer: return "a string or an integer";
  }
  return "a value";
}

std::optional<std::string> element_text(const toml::node& node, ElementKind kind) {
  const bool want_string = kind == ElementKind::string || kind == ElementKind::string_or_integer;
  const bool want_integer = kind != ElementKind::string;
  if (want_string && node.is_string()) return *node.value<std::string>();
  if (want_integer && node.is_integer()) return std::to_string(*node.value<std::int64_t>());
  if (kind == ElementKind::number && node.is_floating_point()) {
    return fmt::format("{}", *node.value<double>());  // shortest text that reads back the same
  }
  return std::nullopt;
}

/// A path from the file, as the node must see it.
std::string resolved_path(const std::string& value, const std::filesystem::path& directory) {
  if (!value.empty() && value.front() == '~') {
    throw KeyProblem{"\"~\" is not expanded in a configuration file: give the full path"};
  }
  const std::filesystem::path path(value);
  if (value.empty() || path.is_absolute()) return value;
  return (directory / path).string();
}

std::vector<std::string> option_inputs(const CLI::Option& option, const toml::node& node,
                                       const std::filesystem::path& directory) {
  if (node.is_table()) throw KeyProblem{"must be a value, not a table"};
  const auto kind = value_kind(option);
  if (kind == ValueKind::flag) {
    if (!node.is_boolean()) throw KeyProblem{"must be true or false"};
    return {*node.value<bool>() ? "true" : "false"};
  }
  const auto element = element_kind(option);
  std::vector<toml::node const*> elements;
  if (kind == ValueKind::array) {
    const auto* array = node.as_array();
    if (!array) throw KeyProblem{fmt::format("must be an array of {}s", value_name(option))};
    for (const auto& item : *array) elements.push_back(&item);
  } else {
    if (node.is_array()) throw KeyProblem{fmt::format("must be {}, not an array", describe(element))};
    elements.push_back(&node);
  }
  std::vector<std::string> inputs;
  for (const auto* item : elements) {
    auto text = element_text(*item, element);
    if (!text) {
      throw KeyProblem{kind == ValueKind::array
                           ? fmt::format("each value must be {}", describe(element))
                           : fmt::format("must be {}", describe(element))};
    }
    inputs.push_back(takes_path(option) ? resolved_path(*text, directory) : *text);
  }
  return inputs;
}

/// CLI11's message without the option name it starts with (the error names the key already).
std::string without_option_name(std::string message, const CLI::Option& option) {
  for (const auto& name : {option.get_name(false, true), "--" + config_key(option),
                           config_key(option)}) {
    if (message.rfind(name + ": ", 0) == 0) return message.substr(name.size() + 2);
    if (message.rfind(name + " ", 0) == 0) return message.substr(name.size() + 1);
  }
  return message;
}

/// Runs the option's own conversion and checks (those the command line applies) on the inputs.
void check_inputs(CLI::Option& option, const std::vector<std::string>& inputs) {
  try {
    option.clear();
    option.add_result(inputs);
    option.run_callback();
  } catch (const CLI::ConversionError& error) {
    // The values are of the right TOML type, so a conversion fails only on a number the
    // option's C++ type cannot hold (a port of 70000); CLI11's text would name the option again.
    throw KeyProblem{fmt::format("{} is out of range", fmt::join(inputs, " "))};
  } catch (const CLI::ParseError& error) {
    throw KeyProblem{without_option_name(error.what(), option)};
  }
}

std::string not_a_setting(const CLI::App& app, const CLI::Option& option) {
  if (&option == app.get_config_ptr()) {
    return "names the configuration file itself: give it on the command line";
  }
  return "is an action of the command line, not a setting: give it on the command line";
}

CLI::ConfigItem config_item(CLI::App& checker, const std::string& key, const toml::node& node,
                            const std::filesystem::path& directory) {
  auto* option = option_for_key(checker, key);
  if (!option) throw KeyProblem{"unknown key"};
  if (!option->get_configurable()) throw KeyProblem{not_a_setting(checker, *option)};
  CLI::ConfigItem item;
  item.name = key;
  item.inputs = option_inputs(*option, node, directory);
  if (!item.inputs.empty()) check_inputs(*option, item.inputs);
  return item;
}

/// The key as the error shows it: control characters escaped, so that a hostile file cannot
/// write to the terminal.
std::string printable(std::string_view key) {
  std::string text;
  for (const char c : key) {
    const auto byte = static_cast<unsigned char>(c);
    text += byte < 0x20 || byte == 0x7f ? fmt::format("\\x{:02x}", byte) : std::string(1, c);
  }
  return text;
}

struct Entry {
  std::string key;
  const toml::node* node;
  std::uint32_t line;
};

/// The top-level keys in the order the file gives them (toml++ keeps them sorted by name).
std::vector<Entry> entries_in_file_order(const toml::table& table) {
  std::vector<Entry> entries;
  for (const auto& [key, node] : table) {
    entries.push_back(Entry{std::string(key.str()), &node, key.source().begin.line});
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.line < b.line; });
  return entries;
}

}  // namespace

std::string value_name(const CLI::Option& option) {
  auto name = option.get_type_name();
  return name.substr(0, name.find(':'));
}

std::string config_key(const CLI::Option& option) {
  if (!option.get_lnames().empty()) return option.get_lnames().front();
  return option.get_positional() ? option.get_name(true, false) : std::string();
}

namespace {

template <typename OptionPointer, typename App>
OptionPointer find_option(App& app, std::string_view key) {
  for (OptionPointer option : app.get_options()) {
    if (!key.empty() && config_key(*option) == key) return option;
  }
  return nullptr;
}

}  // namespace

const CLI::Option* option_for_key(const CLI::App& app, std::string_view key) {
  return find_option<const CLI::Option*>(app, key);
}

CLI::Option* option_for_key(CLI::App& app, std::string_view key) {
  return find_option<CLI::Option*>(app, key);
}

bool takes_path(const CLI::Option& option) { return value_name(option) == "PATH"; }

std::string toml_value_type(const CLI::Option& option) {
  const auto kind = value_kind(option);
  if (kind == ValueKind::flag) return "boolean";
  static constexpr const char* kScalar[] = {"integer", "number", "string", "string or integer"};
  static constexpr const char* kArray[] = {"array of integers", "array of numbers",
                                           "array of strings", "array of strings and integers"};
  const auto element = static_cast<std::size_t>(element_kind(option));
  return kind == ValueKind::array ? kArray[element] : kScalar[element];
}

std::vector<CLI::ConfigItem> read_config(std::string_view text, const std::string& file,
                                         CLI::App& checker) {
  toml::table table;
  try {
    table = toml::parse(text, file);
  } catch (const toml::parse_error& error) {
    const auto& where = error.source().begin;
    throw ConfigFileError(
        fmt::format("{}:{}:{}: {}", file, where.line, where.column, error.description()));
  }
  const auto directory = std::filesystem::path(file).parent_path();
  std::vector<CLI::ConfigItem> items;
  for (const auto& entry : entries_in_file_order(table)) {
    try {
      auto item = config_item(checker, entry.key, *entry.node, directory);
      if (!item.inputs.empty()) items.push_back(std::move(item));
    } catch (const KeyProblem& problem) {
      throw ConfigFileError(
          fmt::format("{}:{}: key \"{}\": {}", file, entry.line, printable(entry.key), problem.text));
    }
  }
  return items;
}

TomlConfig::TomlConfig(const CLI::App& app, AppFactory make_checker)
    : app_(app), make_checker_(std::move(make_checker)) {}

std::string TomlConfig::to_config(const CLI::App* app, bool default_also, bool write_description,
                                  std::string prefix) const {
  return CLI::ConfigTOML().to_config(app, default_also, write_description, std::move(prefix));
}

std::string TomlConfig::file_name() const {
  const auto* config_option = app_.get_config_ptr();
  return config_option ? config_option->as<std::string>() : std::string();
}

std::vector<CLI::ConfigItem> TomlConfig::from_config(std::istream& input) const {
  read_ = true;
  const std::string text{std::istreambuf_iterator<char>(input), std::istreambuf_iterator<char>()};
  try {
    auto checker = make_checker_();
    return read_config(text, file_name(), *checker);
  } catch (const ConfigFileError& error) {
    problem_ = error;
    return {};
  }
}

void TomlConfig::reset() const {
  read_ = false;
  problem_.reset();
}

void TomlConfig::check_after_parse() const {
  if (problem_) throw *problem_;
  const auto file = file_name();
  std::error_code error;
  if (!read_ && !file.empty() && std::filesystem::exists(file, error)) {
    throw ConfigFileError(file + ": cannot be read");
  }
}

}  // namespace chorus::config
