#include "syncd/net/endpoint.h"

#include <gtest/gtest.h>

#include <string>

namespace gwsync::syncd {
namespace {

Endpoint parsed(std::string_view text) {
  auto r = parseEndpoint(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error());
  return r.ok() ? *r : Endpoint{};
}

std::string errorOf(std::string_view text) {
  auto r = parseEndpoint(text);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : r.error();
}

TEST(EndpointTest, ParsesIpv4) {
  EXPECT_EQ(parsed("192.0.2.1:7946"), (Endpoint{.host = "192.0.2.1", .port = 7946}));
  EXPECT_EQ(parsed("0.0.0.0:65535"), (Endpoint{.host = "0.0.0.0", .port = 65535}));
}

TEST(EndpointTest, ParsesBracketedIpv6) {
  EXPECT_EQ(parsed("[2001:db8::1]:7946"), (Endpoint{.host = "2001:db8::1", .port = 7946}));
  EXPECT_EQ(parsed("[::]:1"), (Endpoint{.host = "::", .port = 1}));
  EXPECT_EQ(parsed("[::ffff:192.0.2.1]:80"), (Endpoint{.host = "::ffff:192.0.2.1", .port = 80}));
}

TEST(EndpointTest, FormatsAsItParses) {
  for (std::string_view text : {"192.0.2.1:7946", "[2001:db8::1]:7946"}) {
    EXPECT_EQ(parsed(text).toString(), text);
  }
}

TEST(EndpointTest, ExplainsWhatIsWrong) {
  EXPECT_NE(errorOf("").find("empty endpoint"), std::string::npos);
  EXPECT_NE(errorOf("192.0.2.1").find("no port"), std::string::npos);
  EXPECT_NE(errorOf("192.0.2.1:").find("empty port"), std::string::npos);
  EXPECT_NE(errorOf("2001:db8::1:80").find("needs brackets"), std::string::npos);
  EXPECT_NE(errorOf("[2001:db8::1:80").find("no closing ']'"), std::string::npos);
  EXPECT_NE(errorOf("[2001:db8::1]80").find("no ':PORT'"), std::string::npos);
  EXPECT_NE(errorOf("[2001:db8::1]").find("no ':PORT'"), std::string::npos);
  EXPECT_NE(errorOf("[192.0.2.1]:80").find("IPv6 addresses only"), std::string::npos);
  EXPECT_NE(errorOf("gw2.example:80").find("host names"), std::string::npos);
  EXPECT_NE(errorOf("192.0.2.300:80").find("not an IP address"), std::string::npos);
  EXPECT_NE(errorOf("[]:80").find("not an IP address"), std::string::npos);
  for (std::string_view bad : {"192.0.2.1:0", "192.0.2.1:65536", "192.0.2.1:http", "192.0.2.1:-1",
                               "192.0.2.1:80x", "192.0.2.1: 80"}) {
    EXPECT_NE(errorOf(bad).find("from 1 to 65535"), std::string::npos) << bad;
  }
  // Errors quote the text so the config key's value is visible in the message.
  EXPECT_NE(errorOf("192.0.2.1:99999").find("'192.0.2.1:99999'"), std::string::npos);
}

}  // namespace
}  // namespace gwsync::syncd
