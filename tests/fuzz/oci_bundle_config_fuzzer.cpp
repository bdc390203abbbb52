// parse_oci_bundle_config on arbitrary text, read as containerd's and as CRI-O's (which also decodes JSON nested in
// annotation strings): no crash, no escaping exception.
#include "runtime_details_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sigdrain;
  std::string_view json = fuzz::as_text(data, size);
  fuzz::check_runtime_details(parse_oci_bundle_config(Runtime::containerd, json));
  fuzz::check_runtime_details(parse_oci_bundle_config(Runtime::crio, json));
  return 0;
}
