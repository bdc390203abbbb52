#include "trace/trace_record.hpp"

#include <ctime>

#include <fmt/format.h>

#include "signals/signal_names.hpp"
#include "util/text.hpp"

namespace sigdrain {
namespace {

constexpr std::string_view kRowFormat = "{:<12} {:<22} {:<22} {:<28} {:<9} {:>8}  {}";

std::string_view type_name(TraceEventType t) {
  switch (t) {
    case TraceEventType::signal: return "signal";
    case TraceEventType::deliver: return "deliver";
    case TraceEventType::exit: return "exit";
  }
  return "signal";
}

nlohmann::json container_json(const std::optional<ContainerView>& c) {
  if (!c) return nullptr;
  return {{"id", c->id}, {"name", c->name}, {"runtime", c->runtime}};
}

nlohmann::json process_json(const ProcessView& p) {
  nlohmann::json j = {{"pid", p.pid}, {"comm", p.comm}, {"container", container_json(p.container)}};
  j["ns_pid"] = p.ns_pid ? nlohmann::json(*p.ns_pid) : nlohmann::json(nullptr);
  if (p.kernel) j["kernel"] = true;
  if (p.context_pid) j["context_pid"] = *p.context_pid;
  if (p.tid) j["tid"] = *p.tid;
  return j;
}

template <typename T>
nlohmann::json or_null(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

// "unknown" where the kernel data and a timely /proc read could not tell: never a guessed "default".
std::string disposition_text(const std::optional<Disposition>& d) {
  return d ? std::string(disposition_name(*d)) : "unknown";
}

std::string iso_time(std::chrono::system_clock::time_point t) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t - secs).count();
  std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, micros);
}

std::string clock_time(std::chrono::system_clock::time_point t) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(t - secs).count();
  std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  localtime_r(&tt, &tm);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

std::string process_cell(const ProcessView& p) {
  if (p.kernel) return "[kernel]";
  const std::string comm = printable_text(p.comm);
  if (p.ns_pid && *p.ns_pid != p.pid) return fmt::format("{}[{}/{}]", comm, p.pid, *p.ns_pid);
  return fmt::format("{}[{}]", comm, p.pid);
}

std::string container_cell(const std::optional<ContainerView>& c) {
  if (!c) return "host";
  std::string label = c->name.empty() ? c->id.substr(0, 12) : c->name;
  return fmt::format("{}({})", printable_text(label), c->runtime);
}

std::string fit(std::string s, size_t width) {
  if (s.size() > width) s = s.substr(0, width - 1) + "~";
  return s;
}

}  // namespace

nlohmann::json to_json(const TraceRecord& r) {
  nlohmann::json j = {{"event", type_name(r.type)}, {"time", iso_time(r.time)}};
  switch (r.type) {
    case TraceEventType::signal:
      j["signal"] = signal_name(r.signo);
      j["signo"] = r.signo;
      j["sender"] = process_json(r.sender);
      j["target"] = process_json(r.target);
      j["result"] = r.result;
      j["disposition"] = disposition_text(r.disposition);
      j["inflight"] = or_null(r.inflight);
      if (r.escalation_after_ms) j["escalation_after_ms"] = *r.escalation_after_ms;
      break;
    case TraceEventType::deliver:
      j["signal"] = signal_name(r.signo);
      j["signo"] = r.signo;
      j["target"] = process_json(r.target);
      j["disposition"] = disposition_text(r.disposition);
      break;
    case TraceEventType::exit:
      j["pid"] = r.target.pid;
      j["comm"] = r.target.comm;
      j["container"] = container_json(r.target.container);
      if (r.killed_by)
        j["killed_by"] = signal_name(*r.killed_by);
      else
        j["code"] = or_null(r.exit_code);
      j["after_signal_ms"] = or_null(r.after_signal_ms);
      break;
  }
  j["verdict"] = r.verdict;
  return j;
}

std::string human_header() {
  return fmt::format(kRowFormat, "TIME", "SENDER", "TARGET", "CONTAINER", "SIGNAL", "INFLIGHT", "VERDICT");
}

std::string human_row(const TraceRecord& r) {
  std::string sender = r.type == TraceEventType::signal ? process_cell(r.sender) : "-";
  std::string signal = r.type == TraceEventType::exit ? "exit" : signal_name(r.signo);
  std::string inflight = r.inflight ? std::to_string(*r.inflight) : "-";
  return fmt::format(kRowFormat, clock_time(r.time), fit(sender, 22), fit(process_cell(r.target), 22),
                     fit(container_cell(r.target.container), 28), signal, inflight, r.verdict);
}

}  // namespace sigdrain
