#include "syncd/core/mac_address.h"

#include <gtest/gtest.h>

namespace gwsync::syncd {
namespace {

TEST(MacAddressTest, ParsesEitherCaseAndSeparator) {
  const MacAddress want{{0x02, 0x00, 0x5e, 0x00, 0x01, 0xAB}};
  EXPECT_EQ(MacAddress::parse("02:00:5e:00:01:ab"), want);
  EXPECT_EQ(MacAddress::parse("02:00:5E:00:01:AB"), want);
  EXPECT_EQ(MacAddress::parse("02-00-5e-00-01-ab"), want);
}

TEST(MacAddressTest, RejectsAnythingElse) {
  for (const char* bad : {"", "02:00:5e:00:01", "02:00:5e:00:01:ab:", "2:00:5e:00:01:ab0",
                          "02:00:5e:00:01:ag", "02:00-5e:00:01:ab", "02.00.5e.00.01.ab",
                          "0200:5e00:01ab:", " 02:00:5e:00:01:a", "02:00:5e:00:01:ab "}) {
    EXPECT_FALSE(MacAddress::parse(bad)) << bad;
  }
}

TEST(MacAddressTest, PrintsWhatItParses) {
  const auto mac = MacAddress::parse("0A:1b:2C:3d:4E:ff");
  ASSERT_TRUE(mac);
  EXPECT_EQ(mac->toString(), "0a:1b:2c:3d:4e:ff");
  EXPECT_EQ(MacAddress::parse(mac->toString()), mac);
  EXPECT_EQ(MacAddress{}.toString(), "00:00:00:00:00:00");
}

TEST(MacAddressTest, ClassifiesGroupAndZeroAddresses) {
  EXPECT_TRUE(MacAddress{}.isZero());
  EXPECT_FALSE(MacAddress{}.isMulticast());
  EXPECT_TRUE(MacAddress::broadcast().isBroadcast());
  EXPECT_TRUE(MacAddress::broadcast().isMulticast());
  EXPECT_TRUE(MacAddress::parse("33:33:00:00:00:01")->isMulticast());
  EXPECT_TRUE(MacAddress::parse("01:00:5e:00:00:01")->isMulticast());
  const auto unicast = MacAddress::parse("02:00:5e:00:01:01");
  EXPECT_FALSE(unicast->isMulticast());
  EXPECT_FALSE(unicast->isZero());
  EXPECT_FALSE(unicast->isBroadcast());
}

TEST(MacAddressTest, OrdersByBytes) {
  EXPECT_LT(*MacAddress::parse("00:00:00:00:00:ff"), *MacAddress::parse("00:00:00:00:01:00"));
  EXPECT_LT(*MacAddress::parse("01:00:00:00:00:00"), MacAddress::broadcast());
  const uint8_t raw[6] = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(MacAddress::fromBytes(raw).toString(), "01:02:03:04:05:06");
}

}  // namespace
}  // namespace gwsync::syncd
