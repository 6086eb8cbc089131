#include "chorus/protocol/messages.hpp"

#include "wire_names.hpp"

namespace chorus::protocol {

std::string_view type_name(const Message& message) {
  return detail::kWireNames[message.index()];
}

const std::string& sender(const Message& message) {
  return std::visit([](const auto& m) -> const std::string& { return m.from; }, message);
}

bool is_content_message(const Message& message) {
  return message.index() >= Message(ContentHello{}).index();
}

}  // namespace chorus::protocol
