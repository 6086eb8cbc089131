#include "chorus/mpd/response.hpp"

#include <fmt/format.h>

namespace chorus::mpd {
namespace {

void append_printable(std::string& out, std::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(byte < 0x20 || byte == 0x7f ? ' ' : c);
  }
}

}  // namespace

std::string ack_line(Ack code, std::size_t list_index, std::string_view command,
                     std::string_view message) {
  std::string line = fmt::format("ACK [{}@{}] {{", static_cast<int>(code), list_index);
  append_printable(line, command);
  line += "} ";
  append_printable(line, message);
  line.push_back('\n');
  return line;
}

void ResponseWriter::field(std::string_view key, std::string_view value) {
  text_.append(key);
  text_.append(": ");
  append_printable(text_, value);
  text_.push_back('\n');
}

void ResponseWriter::field(std::string_view key, std::int64_t value) {
  field(key, std::string_view(fmt::format("{}", value)));
}

void ResponseWriter::field(std::string_view key, std::uint64_t value) {
  field(key, std::string_view(fmt::format("{}", value)));
}

void ResponseWriter::seconds(std::string_view key, double value) {
  field(key, std::string_view(fmt::format("{:.3f}", value)));
}

}  // namespace chorus::mpd
