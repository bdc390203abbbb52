// parse_container_cgroup on arbitrary cgroup paths: no crash, and a match names a well-formed id inside a prefix of
// the input.
#include "containers/cgroup_path.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sigdrain;
  std::string_view path = fuzz::as_text(data, size);
  auto ref = parse_container_cgroup(path);
  if (!ref) return 0;
  FUZZ_CHECK(is_container_id(ref->id));
  FUZZ_CHECK(!runtime_name(ref->runtime).empty());
  // container_cgroup is the input cut after the container's component, with a leading '/' added when missing.
  std::string_view cut = ref->container_cgroup;
  if (!path.starts_with('/') && cut.starts_with('/')) cut.remove_prefix(1);
  FUZZ_CHECK(path.starts_with(cut));
  FUZZ_CHECK(cut.find(ref->id) != std::string_view::npos);
  return 0;
}
