#include "nat/port_range.h"

#include <gtest/gtest.h>

namespace gwsync::nat {
namespace {

std::string errorOf(std::string_view text) {
  auto r = parsePortRange(text);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : r.error();
}

TEST(PortRangeTest, ParsesRangesAndSinglePorts) {
  EXPECT_EQ(parsePortRange("1024-65535").value(), (PortRange{1024, 65535}));
  EXPECT_EQ(parsePortRange("1-1").value(), (PortRange{1, 1}));
  EXPECT_EQ(parsePortRange("5000").value(), (PortRange{5000, 5000}));
}

TEST(PortRangeTest, PrintsWhatItParses) {
  EXPECT_EQ((PortRange{1024, 32767}).toString(), "1024-32767");
  EXPECT_EQ((PortRange{80, 80}).toString(), "80");
}

TEST(PortRangeTest, RejectsPortsOutside1To65535) {
  EXPECT_EQ(errorOf("0-100"), "port 0 is outside 1..65535");
  EXPECT_EQ(errorOf("1024-65536"), "port 65536 is outside 1..65535");
  EXPECT_EQ(errorOf("70000"), "port 70000 is outside 1..65535");
}

TEST(PortRangeTest, RejectsEmptyRanges) {
  EXPECT_EQ(errorOf("2000-1000"), "empty range: 2000 is above 1000");
}

TEST(PortRangeTest, RejectsMalformedText) {
  EXPECT_EQ(errorOf(""), "missing port (expected LO-HI or PORT, ports 1..65535)");
  EXPECT_EQ(errorOf("1024-"), "missing port (expected LO-HI or PORT, ports 1..65535)");
  EXPECT_EQ(errorOf(" 80"), "' 80' is not a port (expected LO-HI or PORT, ports 1..65535)");
  EXPECT_EQ(errorOf("+80"), "'+80' is not a port (expected LO-HI or PORT, ports 1..65535)");
  EXPECT_EQ(errorOf("000080"), "'000080' is not a port (expected LO-HI or PORT, ports 1..65535)");
  EXPECT_EQ(errorOf("1-2-3"), "'2-3' is not a port (expected LO-HI or PORT, ports 1..65535)");
}

TEST(PortRangeTest, OverlapAndContainment) {
  const PortRange a{1024, 32767};
  EXPECT_TRUE(a.overlaps({32767, 40000}));
  EXPECT_FALSE(a.overlaps({32768, 65535}));
  EXPECT_TRUE((PortRange{2000, 3000}).within(a));
  EXPECT_FALSE((PortRange{1000, 3000}).within(a));
  EXPECT_EQ(a.size(), 31744u);
  EXPECT_EQ((PortRange{1, 65535}).size(), 65535u);
}

}  // namespace
}  // namespace gwsync::nat
