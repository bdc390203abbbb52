// The kernel's CPU list format, as /sys/devices/system/cpu/online writes it.
#include <gtest/gtest.h>

#include "observer/cpu_list.hpp"

namespace sigdrain {
namespace {

using Cpus = std::vector<uint32_t>;

TEST(CpuList, ReadsRangesAndSingleCpus) {
  EXPECT_EQ(parse_cpu_list("0-1\n"), Cpus({0, 1}));
  EXPECT_EQ(parse_cpu_list("0"), Cpus({0}));
  EXPECT_EQ(parse_cpu_list("0-2,4,6-7"), Cpus({0, 1, 2, 4, 6, 7}));
}

TEST(CpuList, RefusesWhatIsNotAList) {
  for (const char* bad : {"", "\n", "a", "0-", "-1", "3-1", "0,,1", "0,", "1,0", "0-1,1", "0 1", "0-8192", "99999999999"})
    EXPECT_EQ(parse_cpu_list(bad), std::nullopt) << '"' << bad << '"';
}

}  // namespace
}  // namespace sigdrain
