// The copy of the kernel's jhash: Bob Jenkins' lookup3 test vectors (hashlittle, which the
// kernel's jhash equals on a little-endian CPU) and the register layout of the flow key. The
// namespace test (lb_maglev.sh) checks it against the real kernel connection by connection.
#include "lb/kernel_hash.h"

#include <gtest/gtest.h>

#include <string_view>

#include "test_util.h"

namespace gwsync::lb {
namespace {

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(Jhash, Lookup3Vectors) {
  // lookup3.c, driver5(): hashlittle("", 0, 0), ("", 0, 0xdeadbeef) and the "Four score" pair.
  EXPECT_EQ(jhash(bytes(""), 0), 0xdeadbeefu);
  EXPECT_EQ(jhash(bytes(""), 0xdeadbeef), 0xbd5b7ddeu);
  EXPECT_EQ(jhash(bytes("Four score and seven years ago"), 0), 0x17770551u);
  EXPECT_EQ(jhash(bytes("Four score and seven years ago"), 1), 0xcd628161u);
}

TEST(Jhash, ReciprocalScaleStaysInRange) {
  EXPECT_EQ(reciprocalScale(0, 307), 0u);
  EXPECT_EQ(reciprocalScale(0xffffffffu, 307), 306u);
  EXPECT_EQ(reciprocalScale(0x80000000u, 10), 5u);
}

TEST(KernelBucket, HashesAddressThenPortPaddedToFourBytes) {
  const auto client = testing::ip("203.0.113.50");
  const uint8_t v4[8] = {203, 0, 113, 50, 0x9c, 0x40, 0, 0};  // port 40000 = 0x9c40
  EXPECT_EQ(kernelBucket(client, 40000, 0x1234, 307), reciprocalScale(jhash(v4, 0x1234), 307));
  const auto client6 = testing::ip("2001:db8::50");
  uint8_t v6[20] = {0x20, 0x01, 0x0d, 0xb8};
  v6[15] = 0x50;
  v6[16] = 0x9c;
  v6[17] = 0x40;
  EXPECT_EQ(kernelBucket(client6, 40000, 7, 1009), reciprocalScale(jhash(v6, 7), 1009));
}

TEST(KernelBucket, SpreadsClientPortsEvenly) {
  const auto client = testing::ip("203.0.113.50");
  std::vector<int> hits(307, 0);
  for (uint32_t port = 1024; port < 1024 + 307 * 100; ++port) {
    ++hits[kernelBucket(client, static_cast<uint16_t>(port), kDefaultSeed, 307)];
  }
  for (const int h : hits) EXPECT_NEAR(h, 100, 45);
}

}  // namespace
}  // namespace gwsync::lb
