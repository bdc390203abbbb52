// The fleet's shared files (manifest, exit records) and the subcommands' common helpers.
#include "fleet.hpp"

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <fmt/format.h>

namespace sigdrain::fleet {
namespace fs = std::filesystem;

std::filesystem::path manifest_path(const fs::path& dir) { return dir / "manifest.tsv"; }
std::filesystem::path exits_path(const fs::path& dir) { return dir / "exits.tsv"; }

void die(const std::string& message) {
  std::fprintf(stderr, "fleet: %s\n", message.c_str());
  std::exit(2);
}

uint64_t raise_nofile_limit() {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

std::vector<Member> read_manifest(const fs::path& dir) {
  std::ifstream in(manifest_path(dir));
  if (!in) die(fmt::format("no manifest in {}: is `sigdrain_fleet up` running there?", dir.string()));
  std::vector<Member> out;
  Member m;
  int guarded = 0;
  while (in >> m.id >> m.name >> m.pid >> m.port >> guarded >> m.stop_timeout_s >> m.cgroup) {
    m.guarded = guarded != 0;
    out.push_back(m);
  }
  return out;
}

std::vector<Exit> read_exits(const fs::path& dir) {
  std::ifstream in(exits_path(dir));
  std::vector<Exit> out;
  Exit e;
  while (in >> e.id >> e.code >> e.signal) out.push_back(e);
  return out;
}

}  // namespace sigdrain::fleet
