// parse_docker_config on arbitrary text: no crash, no escaping exception.
#include "runtime_details_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sigdrain::fuzz::check_runtime_details(sigdrain::parse_docker_config(sigdrain::fuzz::as_text(data, size)));
  return 0;
}
