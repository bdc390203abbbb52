// parse_proc_cgroup and unified_cgroup_path on arbitrary /proc/<pid>/cgroup texts: no crash, well-formed ids.
#include "containers/cgroup_path.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sigdrain;
  std::string_view text = fuzz::as_text(data, size);
  if (auto path = unified_cgroup_path(text)) FUZZ_CHECK(text.find(*path) != std::string_view::npos);
  if (auto ref = parse_proc_cgroup(text)) FUZZ_CHECK(is_container_id(ref->id));
  return 0;
}
