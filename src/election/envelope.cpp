#include "chorus/election/envelope.hpp"

namespace chorus::election {

std::string_view to_string(MessageKind kind) {
  switch (kind) {
    case MessageKind::election: return "election";
    case MessageKind::answer: return "answer";
    case MessageKind::coordinator: return "coordinator";
  }
  return "?";
}

std::string to_string(const Envelope& envelope) {
  std::string out(to_string(envelope.kind));
  out += ' ';
  out += envelope.from;
  out += "->";
  out += envelope.to;
  out += " @";
  out += std::to_string(envelope.epoch);
  return out;
}

}  // namespace chorus::election
