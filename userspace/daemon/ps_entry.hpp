// One container as the daemon's "ps" reply lists it: one JSON line each, written by the daemon and read back by
// `sigdrain ps` and `sigdrain check`. Both sides use this type, so a key renamed on one side is a parse error on
// the other, not a silent default.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/result.hpp"

namespace sigdrain {

// What the daemon does with a container: no stop of it in progress, draining it before the stop, or the stop let
// through. The names are the reply's "state" values.
enum class PsState { running, draining, stopping };
inline constexpr std::array kPsStateValues{PsState::running, PsState::draining, PsState::stopping};
std::string_view ps_state_name(PsState state);  // "running", "draining", "stopping"
// The state a name stands for; nullopt for any other text (a daemon of another version).
std::optional<PsState> parse_ps_state(std::string_view name);

struct PsEntry {
  std::string id, name, runtime;
  pid_t init_pid = 0;
  bool guarded = false;
  std::string why_not;                              // why it is not guarded ("" when it is)
  std::string backend, backend_why;                 // the hold backend's name and why it was chosen
  std::optional<std::string> init_comm;             // absent when the init's status could not be read
  std::map<std::string, std::string> dispositions;  // the init's, by signal name; empty with init_comm absent
  int64_t inflight = 0, open_inbound = 0;
  PsState state = PsState::running;
  nlohmann::json last_stop = nullptr;  // the last stop record, or null
  bool operator==(const PsEntry&) const = default;
};

nlohmann::json to_json(const PsEntry& entry);
// One line of the reply; the error names the first key that is missing or of the wrong type.
Result<PsEntry> parse_ps_entry(std::string_view line);
// The whole reply: one entry a line; the error names the line.
Result<std::vector<PsEntry>> parse_ps_reply(std::string_view reply);

}  // namespace sigdrain
