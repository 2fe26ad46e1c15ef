#include "syncd/core/endpoint.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace gwsync::syncd {
namespace {

// Throws on a bad literal, which fails the test.
IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }

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
  EXPECT_EQ(parsed("192.0.2.1:7946"), (Endpoint{.addr = ip("192.0.2.1"), .port = 7946}));
  EXPECT_EQ(parsed("0.0.0.0:65535"), (Endpoint{.addr = ip("0.0.0.0"), .port = 65535}));
}

TEST(EndpointTest, ParsesBracketedIpv6) {
  EXPECT_EQ(parsed("[2001:db8::1]:7946"), (Endpoint{.addr = ip("2001:db8::1"), .port = 7946}));
  EXPECT_EQ(parsed("[::]:1"), (Endpoint{.addr = ip("::"), .port = 1}));
  EXPECT_EQ(parsed("[::ffff:192.0.2.1]:80"),
            (Endpoint{.addr = ip("::ffff:192.0.2.1"), .port = 80}));
}

TEST(EndpointTest, ParsesBothFamilies) {
  const Endpoint v4 = parsed("192.0.2.1:7400");
  EXPECT_EQ(v4.addr, ip("192.0.2.1"));
  EXPECT_EQ(v4.addr.family, Family::kIpv4);
  EXPECT_EQ(v4.port, 7400);
  const Endpoint v6 = parsed("[2001:db8::1]:65535");
  EXPECT_EQ(v6.addr, ip("2001:db8::1"));
  EXPECT_EQ(v6.addr.family, Family::kIpv6);
  EXPECT_EQ(v6.port, 65535);
  EXPECT_EQ(v6.toString(), "[2001:db8::1]:65535");
}

TEST(EndpointTest, FormatsAsItParses) {
  for (std::string_view text : {"192.0.2.1:7946", "[2001:db8::1]:7946"}) {
    EXPECT_EQ(parsed(text).toString(), text);
  }
}

TEST(EndpointTest, RejectsMalformed) {
  for (const char* bad : {"", ":", "192.0.2.1", "192.0.2.1:", "192.0.2.1:x", "192.0.2.1:0",
                          "192.0.2.1:65536", "192.0.2.1:-1", "192.0.2.1:+80", "192.0.2.1:000080",
                          "2001:db8::1:80", "[2001:db8::1]", "[2001:db8::1]80", "[192.0.2.1]:80",
                          "gw.example:80", "[]:80", "192.0.2.1 :80", "[fe80::1%eth0]:80"}) {
    EXPECT_FALSE(parseEndpoint(bad).ok()) << bad;
  }
}

// The messages do not repeat the text: the config error names the key and shows the value
// (ConfigTest pins the whole line for several of these).
TEST(EndpointTest, ExplainsWhatIsWrong) {
  EXPECT_EQ(errorOf(""), "empty (expected IP:PORT or [IPv6]:PORT)");
  EXPECT_EQ(errorOf("192.0.2.1"), "no port (expected IP:PORT or [IPv6]:PORT)");
  EXPECT_EQ(errorOf("192.0.2.1:"), "no port (expected IP:PORT or [IPv6]:PORT)");
  EXPECT_EQ(errorOf("1.2.3"), "not an address:port (expected IP:PORT or [IPv6]:PORT)");
  EXPECT_EQ(errorOf("2001:db8::1:80"),
            "an IPv6 address needs brackets (expected IP:PORT or [IPv6]:PORT)");
  EXPECT_EQ(errorOf("[2001:db8::1:80"), "no closing ']' (expected IP:PORT or [IPv6]:PORT)");
  EXPECT_EQ(errorOf("[2001:db8::1]80"), "no :PORT after ']' (expected IP:PORT or [IPv6]:PORT)");
  EXPECT_EQ(errorOf("[2001:db8::1]"), "no :PORT after ']' (expected IP:PORT or [IPv6]:PORT)");
  EXPECT_EQ(errorOf("[192.0.2.1]:80"),
            "brackets are for IPv6 addresses only (expected IP:PORT or [IPv6]:PORT)");
  // Host names, bad literals and empty brackets: none of them is an IP address.
  for (std::string_view bad : {"gw2.example:80", "192.0.2.300:80", "[]:80"}) {
    EXPECT_EQ(errorOf(bad), "not an address:port (expected IP:PORT or [IPv6]:PORT)") << bad;
  }
  EXPECT_EQ(errorOf("192.0.2.1:0"), "port 0 is out of range (1..65535)");
  EXPECT_EQ(errorOf("192.0.2.1:65536"), "port 65536 is out of range (1..65535)");
  EXPECT_EQ(errorOf("192.0.2.1:99999"), "port 99999 is out of range (1..65535)");
  for (std::string_view port : {"http", "-1", "+80", "80x", " 80"}) {
    EXPECT_EQ(errorOf("192.0.2.1:" + std::string(port)),
              "port '" + std::string(port) + "' is not a decimal number (1..65535)")
        << port;
  }
  EXPECT_EQ(errorOf("192.0.2.1:000080"), "port '000080' has more than 5 digits (1..65535)");
}

}  // namespace
}  // namespace gwsync::syncd
