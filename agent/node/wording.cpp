#include "node/wording.h"

namespace vipd::node {
namespace {

std::string ms(core::Time t) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(t).count()) + " ms";
}

}  // namespace

std::string entering_state(const std::string& name, const core::StateChange& change) {
  std::string line =
      "(" + name + ") Entering " + std::string(core::to_string(change.to)) + " STATE";
  if (change.to == core::State::Backup && change.reason == core::StateReason::Startup)
    line += " (init)";
  return line;
}

std::string transition_reason(const std::string& name, const core::StateChange& change,
                              const core::Instance& instance) {
  std::string line = "(" + name + ") " + std::string(core::to_string(change.from)) + " -> " +
                     std::string(core::to_string(change.to)) + ": " +
                     std::string(core::to_string(change.reason));
  if (change.to == core::State::Backup) {
    line += ", priority " + std::to_string(instance.priority()) + ", master down interval " +
            ms(instance.master_down_interval());
  }
  if (change.to == core::State::Master) line += ", priority " + std::to_string(instance.priority());
  return line;
}

std::string note_text(const std::string& name, const core::Note& note, std::uint8_t our_priority) {
  const std::string prefix = "(" + name + ") ";
  const std::string peer = note.peer.to_string();
  switch (note.kind) {
    case core::NoteKind::ReceivedPriorityZero:
      return prefix + "Backup received priority 0 advertisement";
    case core::NoteKind::SentPriorityZero:
      return prefix + "sent 0 priority";
    case core::NoteKind::LowerPriorityDiscarded:
      return prefix + "received lower priority (" + std::to_string(note.priority) +
             ") advert from " + peer + " - discarding";
    case core::NoteKind::HigherPriorityHeard:
      return prefix + "Master received advert from " + peer + " with higher priority " +
             std::to_string(note.priority) + ", ours " + std::to_string(our_priority);
    case core::NoteKind::ForcingNewElection:
      return prefix + "Received advert from " + peer + " with lower priority " +
             std::to_string(note.priority) + ", ours " + std::to_string(our_priority) +
             ", forcing new election";
    case core::NoteKind::ReceiveTimeout:
      return prefix + "Receive advertisement timeout";
  }
  return prefix + "?";
}

std::string reject_text(const std::string& interface, core::DecodeError reason,
                        const std::optional<core::IpAddress>& source) {
  const std::string from =
      (source ? " from " + source->to_string() : std::string()) + " on " + interface;
  switch (reason) {
    case core::DecodeError::AuthMismatch:
      return "received an invalid passwd!" + from;
    case core::DecodeError::BadChecksum:
      return "Invalid VRRP checksum" + from;
    case core::DecodeError::BadTtl:
      return "invalid TTL/HL. Received packet with TTL != 255" + from;
    case core::DecodeError::BadVersion:
      return "wrong VRRP version" + from;
    case core::DecodeError::UnknownVrid:
      return "advert for an unknown VRID" + from;
    default:
      break;
  }
  return "bogus VRRP packet received (" + std::string(core::to_string(reason)) + ")" + from;
}

}  // namespace vipd::node
