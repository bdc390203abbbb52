#include "daemon/journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "util/fd.hpp"
#include "util/files.hpp"
#include "util/json.hpp"

namespace sigdrain {
namespace {

// A state directory must be a real directory owned by the daemon's user (root) and not writable by others: the
// journal decides which processes get signals.
Result<void> ensure_private_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return Error::sys(errno, fmt::format("cannot create {}", path));
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return Error::sys(errno, fmt::format("cannot stat {}", path));
  if (!S_ISDIR(st.st_mode)) return Error::msg(fmt::format("{} is not a directory (a symlink?); refusing to use it", path));
  if (st.st_uid != ::geteuid() || (st.st_mode & 0022))
    return Error::msg(fmt::format("{} must be owned by the daemon's user and not writable by others", path));
  return {};
}

}  // namespace

std::string to_json_text(const HoldRecord& r) {
  return json_text(nlohmann::json{{"container_id", r.container_id},
                                  {"tgid", r.tgid},
                                  {"start_time", r.start_time},
                                  {"signo", r.signo},
                                  {"held_at_ms", r.held_at_ms},
                                  {"drain_deadline_ms", r.drain_deadline_ms},
                                  {"kill_at_ms", r.kill_at_ms}});
}

Result<HoldRecord> parse_hold_record(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error::msg("hold record is not a JSON object");
  const nlohmann::json* id = json_member(j, "container_id");
  auto tgid = json_integer(j, "tgid"), start_time = json_integer(j, "start_time"), signo = json_integer(j, "signo");
  auto held_at = json_integer(j, "held_at_ms"), deadline = json_integer(j, "drain_deadline_ms");
  auto kill_at = json_integer(j, "kill_at_ms");
  if (!id || !id->is_string() || !tgid || !start_time || !signo || !held_at || !deadline || !kill_at)
    return Error::msg("hold record: a field is missing or not a whole number");
  if (*tgid <= 0 || *tgid > INT32_MAX || *signo < 1 || *signo > 64 || *start_time < 0)
    return Error::msg("hold record: pid or signal out of range");
  HoldRecord r;
  r.container_id = id->get<std::string>();
  r.tgid = static_cast<pid_t>(*tgid);
  r.start_time = static_cast<uint64_t>(*start_time);
  r.signo = static_cast<int>(*signo);
  r.held_at_ms = *held_at;
  r.drain_deadline_ms = *deadline;
  r.kill_at_ms = *kill_at;
  return r;
}

Result<Journal> Journal::open(std::string state_dir) {
  if (auto r = ensure_private_dir(state_dir); !r) return r.error();
  std::string dir = state_dir + "/held";
  if (auto r = ensure_private_dir(dir); !r) return r.error();
  return Journal(std::move(dir));
}

std::string Journal::path_for(pid_t tgid, int signo) const { return fmt::format("{}/{}-{}.json", dir_, tgid, signo); }

Result<void> Journal::record(const HoldRecord& r) {
  const std::string path = path_for(r.tgid, r.signo), tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return Error::sys(errno, fmt::format("cannot write {}", tmp));
  const std::string text = to_json_text(r) + "\n";
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) || ::fsync(fd.get()) != 0)
    return Error::sys(errno, fmt::format("cannot write {}", tmp));
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Error::sys(errno, fmt::format("cannot rename {}", tmp));
  return {};
}

void Journal::remove(pid_t tgid, int signo) { ::unlink(path_for(tgid, signo).c_str()); }

std::vector<HoldRecord> Journal::load(std::vector<std::string>& problems) {
  std::vector<HoldRecord> out;
  for (const std::string& name : directory_names(dir_).value_or({})) {
    if (name.size() < 6 || name.substr(name.size() - 5) != ".json") continue;
    std::string path = dir_ + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      problems.push_back(fmt::format("{}: not a regular file, removed", path));
      ::unlink(path.c_str());
      continue;
    }
    auto text = read_file(path, 4096);
    auto rec = text ? parse_hold_record(*text) : Result<HoldRecord>(text.error());
    if (!rec) {
      problems.push_back(fmt::format("{}: {}, removed", path, rec.error().message));
      ::unlink(path.c_str());
      continue;
    }
    out.push_back(*rec);
  }
  return out;
}

}  // namespace sigdrain
