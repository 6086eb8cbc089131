#include "chorus/mpd/tokenizer.hpp"

namespace chorus::mpd {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_letter(c) || is_digit(c) || c == '_'; }
bool is_bare_char(char c) {
  return static_cast<unsigned char>(c) > 0x20 && c != '"' && c != '\'';
}

class Cursor {
 public:
  explicit Cursor(std::string_view line) : line_(line) {}
  void skip_blanks() {
    while (pos_ < line_.size() && is_blank(line_[pos_])) ++pos_;
  }
  bool at_end() const { return pos_ >= line_.size(); }
  char peek() const { return line_[pos_]; }
  bool at_word_end() const { return at_end() || is_blank(peek()); }

  std::variant<std::string, TokenizeError> name() {
    if (!is_letter(peek())) return TokenizeError{"Letter expected", true};
    const std::size_t start = pos_;
    while (!at_end() && is_name_char(peek())) ++pos_;
    if (!at_word_end()) return TokenizeError{"Invalid word character", true};
    return std::string(line_.substr(start, pos_ - start));
  }

  std::variant<std::string, TokenizeError> argument() {
    return peek() == '"' ? quoted() : bare();
  }

 private:
  std::variant<std::string, TokenizeError> bare() {
    const std::size_t start = pos_;
    while (!at_end() && is_bare_char(peek())) ++pos_;
    if (!at_word_end()) return TokenizeError{"Invalid unquoted character", false};
    return std::string(line_.substr(start, pos_ - start));
  }

  std::variant<std::string, TokenizeError> quoted() {
    ++pos_;  // the opening quote
    std::string value;
    while (!at_end() && peek() != '"') {
      if (peek() == '\\') {
        ++pos_;
        if (at_end()) break;
      }
      value.push_back(line_[pos_++]);
    }
    if (at_end()) return TokenizeError{"Missing closing '\"'", false};
    ++pos_;  // the closing quote
    if (!at_word_end()) return TokenizeError{"Space expected after closing '\"'", false};
    return value;
  }

  std::string_view line_;
  std::size_t pos_ = 0;
};

}  // namespace

std::variant<Words, TokenizeError> tokenize(std::string_view line) {
  Cursor cursor(line);
  Words words;
  cursor.skip_blanks();
  if (cursor.at_end()) return words;
  auto name = cursor.name();
  if (auto* error = std::get_if<TokenizeError>(&name)) return *error;
  words.push_back(std::move(std::get<std::string>(name)));
  for (cursor.skip_blanks(); !cursor.at_end(); cursor.skip_blanks()) {
    if (words.size() >= kMaxWords) return TokenizeError{"Too many arguments", false};
    auto word = cursor.argument();
    if (auto* error = std::get_if<TokenizeError>(&word)) return *error;
    words.push_back(std::move(std::get<std::string>(word)));
  }
  return words;
}

std::string quote_argument(std::string_view value) {
  bool bare = !value.empty();
  for (char c : value) bare = bare && is_bare_char(c);
  if (bare) return std::string(value);
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

}  // namespace chorus::mpd
