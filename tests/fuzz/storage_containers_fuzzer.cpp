// parse_storage_containers on arbitrary text (containers/storage's containers.json, read when the daemon has no
// podman binary): no crash, no escaping exception, and only container ids come out.
#include "containers/runtime_state.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sigdrain;
  auto parsed = parse_storage_containers(fuzz::as_text(data, size));
  if (!parsed) {
    FUZZ_CHECK(!parsed.error().message.empty());
    return 0;
  }
  for (const auto& c : *parsed) FUZZ_CHECK(is_container_id(c.id));
  return 0;
}
