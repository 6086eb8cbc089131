#include "chorus/mpd/session.hpp"

#include <sodium.h>

#include <array>
#include <algorithm>
#include <utility>

#include "commands.hpp"

namespace chorus::mpd {
namespace {

using control::Subsystems;

struct IdleName {
  std::string_view name;
  Subsystems bit;
};

/// Subsystems chorus never changes still count as asked for, so that `idle update` waits (for
/// `noidle`) instead of being refused.
constexpr Subsystems kNeverChanges = 1u << 31;

constexpr std::array<IdleName, 14> kIdleNames = {{
    {"database", control::kDatabase},
    {"update", control::kUpdate},
    {"stored_playlist", kNeverChanges},
    {"playlist", control::kPlaylist},
    {"player", control::kPlayer},
    {"mixer", control::kMixer},
    {"output", control::kOutput},
    {"options", control::kOptions},
    {"partition", kNeverChanges},
    {"sticker", kNeverChanges},
    {"subscription", kNeverChanges},
    {"message", kNeverChanges},
    {"neighbor", kNeverChanges},
    {"mount", kNeverChanges},
}};

/// Compares in time that depends on neither text: both are hashed to one length first.
bool same_secret(std::string_view given, std::string_view expected) {
  std::array<unsigned char, crypto_generichash_BYTES> a{};
  std::array<unsigned char, crypto_generichash_BYTES> b{};
  crypto_generichash(a.data(), a.size(), reinterpret_cast<const unsigned char*>(given.data()),
                     given.size(), nullptr, 0);
  crypto_generichash(b.data(), b.size(), reinterpret_cast<const unsigned char*>(expected.data()),
                     expected.size(), nullptr, 0);
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<Failure> check_arity(const detail::CommandDef& def, const Words& words) {
  const int given = static_cast<int>(words.size()) - 1;
  const std::string quoted = "\"" + words.front() + "\"";
  if (def.min_args == def.max_args && given != def.max_args) {
    return Failure{Ack::arg, "wrong number of arguments for " + quoted};
  }
  if (given < def.min_args) return Failure{Ack::arg, "too few arguments for " + quoted};
  if (def.max_args >= 0 && given > def.max_args) {
    return Failure{Ack::arg, "too many arguments for " + quoted};
  }
  return std::nullopt;
}

}  // namespace

Session::Session(SessionConfig config)
    : config_(std::move(config)), authorized_(!config_.password.has_value()) {}

std::string Session::greeting() { return "OK MPD " + std::string(kProtocolVersion) + "\n"; }

Step Session::on_line(std::string_view line, const control::ClusterView& view,
                      const Instant& now) {
  Step step;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // MPD: every command starts with a lower-case letter; anything else (an empty line, an HTTP
  // request sent to the wrong port) is not the protocol, and the connection is closed.
  // idle and noidle cannot be part of a command list.
  const bool idle_word = line == "idle" || line == "noidle";
  if (line.empty() || line.front() < 'a' || line.front() > 'z' ||
      (collecting_ != ListMode::none && idle_word)) {
    step.close = true;
    return step;
  }
  if (line == "noidle") {
    // Not idling: the idle's answer has already been sent, and noidle has nothing to add.
    if (idling()) {
      idle_mask_ = 0;
      step.output = "OK\n";
    }
    return step;
  }
  if (idling()) {  // MPD: a client must not send anything but noidle while idling
    step.close = true;
    return step;
  }
  if (collecting_ != ListMode::none) {
    if (line == "command_list_end") {
      batch_ = std::exchange(collected_, {});
      batch_mode_ = std::exchange(collecting_, ListMode::none);
      batch_next_ = 0;
      return run_batch(view, now, std::move(step));
    }
    if (collected_.size() >= config_.max_command_list) {
      step.output = ack_line(Ack::not_list, collected_.size(), "", "command list is too long");
      step.close = true;
      return step;
    }
    collected_.emplace_back(line);
    return step;
  }
  if (line == "command_list_begin" || line == "command_list_ok_begin") {
    collecting_ = line == "command_list_begin" ? ListMode::plain : ListMode::with_ok;
    return step;
  }
  batch_.assign(1, std::string(line));
  batch_mode_ = ListMode::none;
  batch_next_ = 0;
  return run_batch(view, now, std::move(step));
}

Step Session::run_batch(const control::ClusterView& view, const Instant& now, Step step) {
  for (; batch_next_ < batch_.size(); ++batch_next_) {
    current_.clear();
    auto tokens = tokenize(batch_[batch_next_]);
    if (auto* error = std::get_if<TokenizeError>(&tokens)) {
      // MPD: a line whose command name cannot be read is not the protocol: answer, then close
      step = fail(std::move(step), {error->in_name ? Ack::unknown : Ack::arg, error->message});
      step.close = step.close || error->in_name;
      return step;
    }
    current_ = std::move(std::get<Words>(tokens));
    const Words& words = current_;
    switch (special_command(words, step)) {
      case Special::answered: return step;
      case Special::next: break;
      case Special::none: {
        const detail::CommandDef* def = detail::find_command(words.front());
        if (def == nullptr) {
          return fail(std::move(step), {Ack::unknown, "unknown command \"" + words.front() + "\""});
        }
        if (!authorized_ && !detail::unprivileged(def->name)) {
          return fail(std::move(step), {Ack::permission, "you don't have permission for \"" +
                                                             words.front() + "\""});
        }
        if (auto failure = check_arity(*def, words)) return fail(std::move(step), *failure);
        detail::Context context{.view = view, .now = now, .tags = tags_, .authorized = authorized_};
        detail::Reply reply = def->handler(words, context);
        if (reply.failure) return fail(std::move(step), *reply.failure);
        step.output += reply.body.take();
        if (!reply.run.empty()) {
          pending_ = std::move(reply.run);
          answer_id_ = reply.answer_id;
          added_id_.reset();
          step.command = pending_.front();
          return step;
        }
      }
    }
    if (batch_mode_ == ListMode::with_ok) step.output += "list_OK\n";
  }
  return finish_batch(std::move(step));
}

Session::Special Session::special_command(const Words& words, Step& step) {
  const std::string& name = words.front();
  if (name == "close") {
    step.close = true;
    return Special::answered;
  }
  if (name == "idle") {
    if (batch_mode_ != ListMode::none) {
      step = fail(std::move(step), {Ack::arg, "idle in a command list"});
    } else {
      step = idle_command(words, std::move(step));
    }
    return Special::answered;
  }
  if (name == "noidle") return Special::next;
  if (name == "password") {
    if (words.size() != 2) {
      step = fail(std::move(step), {Ack::arg, "wrong number of arguments for \"password\""});
      return Special::answered;
    }
    if (!config_.password || !same_secret(words[1], *config_.password)) {
      step = fail(std::move(step), {Ack::password, "incorrect password"});
      return Special::answered;
    }
    authorized_ = true;
    return Special::next;
  }
  return Special::none;
}

Step Session::on_outcome(const control::Outcome& outcome, const control::ClusterView& view,
                         const Instant& now) {
  Step step;
  if (pending_.empty()) return step;  // nothing was asked for: ignore
  if (!outcome.ok) return fail(std::move(step), detail::failure_of(outcome));
  if (outcome.item_id && !added_id_) added_id_ = outcome.item_id;
  pending_.erase(pending_.begin());
  if (!pending_.empty()) {
    step.command = pending_.front();
    return step;
  }
  if (outcome.job) {
    ResponseWriter out;
    out.field("updating_db", *outcome.job);
    step.output += out.take();
  }
  if (answer_id_) {
    if (!added_id_) return fail(std::move(step), {Ack::system, "the queue did not name the item"});
    ResponseWriter out;
    out.field("Id", *added_id_);
    step.output += out.take();
  }
  if (batch_mode_ == ListMode::with_ok) step.output += "list_OK\n";
  ++batch_next_;
  return run_batch(view, now, std::move(step));
}

Step Session::finish_batch(Step step) {
  step.output += "OK\n";
  batch_.clear();
  batch_next_ = 0;
  return step;
}

Step Session::fail(Step step, const Failure& failure) {
  const std::size_t index = batch_mode_ == ListMode::none ? 0 : batch_next_;
  // MPD names no command in the braces of an unknown one
  const bool named = failure.code != Ack::unknown && !current_.empty();
  const std::string command = named ? current_.front() : "";
  step.output += ack_line(failure.code, index, command, failure.message);
  step.command.reset();
  batch_.clear();
  batch_next_ = 0;
  pending_.clear();
  return step;
}

Step Session::idle_command(const Words& words, Step step) {
  Subsystems mask = 0;
  for (std::size_t i = 1; i < words.size(); ++i) {
    const auto* known = std::find_if(kIdleNames.begin(), kIdleNames.end(),
                                     [&](const IdleName& n) { return n.name == words[i]; });
    if (known == kIdleNames.end()) {
      return fail(std::move(step), {Ack::arg, "Unrecognized idle event: " + words[i]});
    }
    mask |= known->bit;
  }
  idle_mask_ = mask == 0 ? (control::kAllSubsystems | kNeverChanges) : mask;
  batch_.clear();
  batch_next_ = 0;
  if ((changed_ & idle_mask_) != 0) step.output += answer_idle();
  return step;
}

std::string Session::answer_idle() {
  const Subsystems flags = std::exchange(changed_, 0) & idle_mask_;
  idle_mask_ = 0;
  ResponseWriter out;
  for (const IdleName& name : kIdleNames) {
    if ((flags & name.bit) != 0 && name.bit != kNeverChanges) out.field("changed", name.name);
  }
  return out.take() + "OK\n";
}

Step Session::on_changes(control::Subsystems changed) {
  Step step;
  changed_ |= changed;
  if (idling() && (changed_ & idle_mask_) != 0) step.output = answer_idle();
  return step;
}

}  // namespace chorus::mpd
