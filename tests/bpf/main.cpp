// BPF integration tests need root and a kernel with the tracepoints. Without root they fail loudly:
// a silent skip would hide that the tier never ran.
#include <unistd.h>

#include <cstdio>

#include <gtest/gtest.h>

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (geteuid() != 0 && !GTEST_FLAG_GET(list_tests)) {
    std::fprintf(stderr, "bpf_tests: must run as root (they load BPF programs and send real signals)\n");
    return 1;
  }
  return RUN_ALL_TESTS();
}
