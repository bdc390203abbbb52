#include "daemon/ps_entry.hpp"

#include <cstdint>

#include <fmt/format.h>

#include "util/json.hpp"
#include "util/text.hpp"

namespace sigdrain {

std::string_view ps_state_name(PsState state) {
  switch (state) {
    case PsState::running: return "running";
    case PsState::draining: return "draining";
    case PsState::stopping: break;
  }
  return "stopping";
}

std::optional<PsState> parse_ps_state(std::string_view name) {
  for (PsState state : kPsStateValues)
    if (ps_state_name(state) == name) return state;
  return std::nullopt;
}

nlohmann::json to_json(const PsEntry& e) {
  nlohmann::json j = {{"id", e.id},           {"name", e.name},       {"runtime", e.runtime},
                      {"init_pid", e.init_pid}, {"guarded", e.guarded}, {"why_not", e.why_not},
                      {"backend", e.backend}, {"backend_why", e.backend_why}};
  if (e.init_comm) j["init_comm"] = *e.init_comm;
  for (const auto& [signal, disposition] : e.dispositions) j["dispositions"][signal] = disposition;
  j["inflight"] = e.inflight;
  j["open_inbound"] = e.open_inbound;
  j["state"] = ps_state_name(e.state);
  j["last_stop"] = e.last_stop;
  return j;
}

namespace {

// Reads the members of one object, remembering the first that is missing, of the wrong type or of an unknown value.
class Fields {
 public:
  explicit Fields(const nlohmann::json& j) : j_(j) {}
  std::string text(const char* key) { return take(key, json_string(j_, key)); }
  int64_t integer(const char* key) { return take(key, json_integer(j_, key)); }
  bool flag(const char* key) { return take(key, json_bool(j_, key)); }
  void fail(const char* key, std::string why = "is missing or of the wrong type") {
    if (!bad_) bad_ = fmt::format("\"{}\" {}", key, why);
  }
  const std::optional<std::string>& bad() const { return bad_; }

 private:
  template <typename T>
  T take(const char* key, std::optional<T> v) {
    if (!v) fail(key);
    return v.value_or(T{});
  }
  const nlohmann::json& j_;
  std::optional<std::string> bad_;
};

}  // namespace

Result<PsEntry> parse_ps_entry(std::string_view line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error::msg("not a JSON object");
  Fields f(j);
  PsEntry e;
  e.id = f.text("id");
  e.name = f.text("name");
  e.runtime = f.text("runtime");
  int64_t init_pid = f.integer("init_pid");
  if (init_pid < 0 || init_pid > INT32_MAX) f.fail("init_pid");
  e.init_pid = static_cast<pid_t>(init_pid);
  e.guarded = f.flag("guarded");
  e.why_not = f.text("why_not");
  e.backend = f.text("backend");
  e.backend_why = f.text("backend_why");
  if (json_member(j, "init_comm")) e.init_comm = f.text("init_comm");
  if (const nlohmann::json* d = json_member(j, "dispositions")) {
    if (!d->is_object()) f.fail("dispositions");
    else
      for (const auto& item : d->items()) {
        if (item.value().is_string())
          e.dispositions[item.key()] = item.value().get<std::string>();
        else
          f.fail("dispositions");
      }
  }
  e.inflight = f.integer("inflight");
  e.open_inbound = f.integer("open_inbound");
  const std::string state = f.text("state");  // when missing, that is the error, not its empty value
  if (auto known = parse_ps_state(state)) e.state = *known;
  else f.fail("state", fmt::format("is \"{}\", not running, draining or stopping", printable_text(state)));
  const nlohmann::json* last = json_member(j, "last_stop");
  if (last && (last->is_null() || last->is_object()))
    e.last_stop = *last;
  else
    f.fail("last_stop");
  if (f.bad()) return Error::msg(*f.bad());
  return e;
}

Result<std::vector<PsEntry>> parse_ps_reply(std::string_view reply) {
  std::vector<PsEntry> entries;
  for (size_t n = 1; !reply.empty(); ++n) {
    std::string_view line = reply.substr(0, reply.find('\n'));
    reply.remove_prefix(std::min(reply.size(), line.size() + 1));
    auto entry = parse_ps_entry(line);
    if (!entry) return Error::msg(fmt::format("the daemon's ps reply, line {}: {}", n, entry.error().message));
    entries.push_back(std::move(*entry));
  }
  return entries;
}

}  // namespace sigdrain
