#include "syncd/app/config_mobility.h"

#include <string>

#include "syncd/core/mac_address.h"

namespace gwsync::syncd::config_detail {

namespace {

constexpr size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1

bool validInterface(std::string_view name) {
  if (name.empty() || name.size() > kMaxInterfaceName || name == "." || name == "..") return false;
  for (char c : name) {
    if (c == '/' || c == ':' || c <= ' ' || c == 0x7f) return false;
  }
  return true;
}

std::string badInterface() {
  return "not an interface name (1-" + std::to_string(kMaxInterfaceName) +
         " characters, no '/', ':' or spaces)";
}

// Returns false when an item was refused (its error names it; no second "required" error).
bool readInterfaces(TableReader& r, std::string_view key, std::vector<std::string>& out) {
  const toml::array* list = r.array(key);
  if (list == nullptr) return !r.diag().failed(r.path(key));
  bool good = true;
  for (size_t i = 0; i < list->size(); ++i) {
    const toml::node& item = *list->get(i);
    const std::string item_key = std::string(key) + "[" + std::to_string(i) + "]";
    if (!item.is_string() || !validInterface(item.as_string()->get())) {
      r.error(item_key, &item, badInterface());
      good = false;
      continue;
    }
    out.push_back(item.as_string()->get());
  }
  return good;
}

void readInterface(TableReader& r, std::string_view key, std::string& out) {
  if (auto name = r.string(key)) {
    if (!validInterface(*name)) return r.error(key, r.get(key, toml::node_type::string), badInterface());
    out = *name;
  }
}

std::optional<IpAddress> readAddress(TableReader& r, std::string_view key, Need need,
                                     std::optional<Family> family = std::nullopt) {
  auto text = r.string(key, need);
  if (!text) return std::nullopt;
  auto addr = IpAddress::parse(*text);
  const toml::node* node = r.get(key, toml::node_type::string);
  if (!addr) {
    r.error(key, node, "not an IP address");
    return std::nullopt;
  }
  if (family && addr->family != *family) {
    r.error(key, node, *family == Family::kIpv4 ? "must be an IPv4 address" : "must be IPv6");
    return std::nullopt;
  }
  return addr;
}

template <typename T>
void readBounded(TableReader& r, std::string_view key, T& out, int64_t lo, int64_t hi) {
  if (auto v = r.integer(key, lo, hi)) out = static_cast<T>(*v);
}

}  // namespace

void readMobility(TableReader& r, std::optional<MobilityConfig>& out) {
  MobilityConfig m;
  bool good = true;
  const auto missing = [&](std::string_view key, std::string message) {
    r.error(key, nullptr, std::move(message));
    good = false;
  };

  const bool lan_ok = readInterfaces(r, "lan_interfaces", m.lan_interfaces);
  if (!lan_ok) good = false;
  if (m.lan_interfaces.empty() && lan_ok) {
    missing("lan_interfaces", "required: the LAN interfaces where mobile hosts appear");
  }
  if (const toml::array* list = r.array("mobile_prefixes")) {
    for (size_t i = 0; i < list->size(); ++i) {
      const toml::node& item = *list->get(i);
      const std::string key = "mobile_prefixes[" + std::to_string(i) + "]";
      auto p = item.is_string() ? parsePrefix(item.as_string()->get())
                                : Result<Prefix, std::string>(fail(std::string("expected a string")));
      if (!p) {
        r.error(key, &item, p.error());
        good = false;
        continue;
      }
      m.mobile_prefixes.push_back(*p);
    }
  }
  if (m.mobile_prefixes.empty() && !r.diag().failed(r.path("mobile_prefixes"))) {
    missing("mobile_prefixes", "required: the prefixes of hosts that may move (e.g. \"192.0.2.0/24\")");
  }
  if (auto a = readAddress(r, "anycast_ipv4", Need::kRequired, Family::kIpv4)) {
    m.anycast_ipv4 = *a;
  } else {
    good = false;
  }
  if (auto text = r.string("anycast_mac", Need::kRequired)) {
    auto mac = MacAddress::parse(*text);
    if (!mac || mac->isMulticast() || mac->isZero()) {
      r.error("anycast_mac", r.get("anycast_mac", toml::node_type::string),
              "not a unicast MAC address (expected e.g. \"02:00:5e:00:01:01\")");
      good = false;
    } else {
      m.anycast_mac = mac->bytes;
    }
  } else {
    good = false;
  }
  m.anycast_ipv6 = readAddress(r, "anycast_ipv6", Need::kOptional, Family::kIpv6);
  readBounded(r, "debounce_ms", m.debounce_ms, 0, 60000);
  readBounded(r, "probe_timeout_ms", m.probe_timeout_ms, 1, 10000);
  if (auto t = r.integer("route_table", 1, 0xffffffffLL)) {
    if (*t >= 253 && *t <= 255) {
      r.error("route_table", r.get("route_table", toml::node_type::integer),
              "253-255 are the kernel's default, main and local tables; use a table of its own");
      good = false;
    } else {
      m.route_table = static_cast<uint32_t>(*t);
    }
  }
  // 0-4 are the kernel's own (unspec, redirect, kernel, boot, static).
  readBounded(r, "route_protocol", m.route_protocol, 5, 255);
  readInterface(r, "route_device", m.route_device);
  if (m.route_device.empty() && !m.lan_interfaces.empty()) m.route_device = m.lan_interfaces[0];

  bool return_path_ok = true;
  if (auto rp = r.string("return_path")) {
    if (*rp == "redirect") {
      m.return_path = ReturnPath::kRedirect;
    } else if (*rp == "liberal") {
      m.return_path = ReturnPath::kLiberal;
    } else if (*rp == "none") {
      m.return_path = ReturnPath::kNone;
    } else {
      r.error("return_path", r.get("return_path", toml::node_type::string),
              "expected one of redirect, liberal, none");
      good = false;
      return_path_ok = false;
    }
  }
  const bool ingress_ok = readInterfaces(r, "redirect_ingress", m.redirect_ingress);
  readInterface(r, "redirect_device", m.redirect_device);
  m.redirect_next_hop = readAddress(r, "redirect_next_hop", Need::kOptional);
  if (m.return_path == ReturnPath::kRedirect && return_path_ok) {
    if (m.redirect_ingress.empty() && ingress_ok) {
      missing("redirect_ingress",
              "required with return_path = \"redirect\": where replies of moved flows arrive");
    }
    if (m.redirect_device.empty() && !r.diag().failed(r.path("redirect_device"))) {
      missing("redirect_device", "required with return_path = \"redirect\": the link to the peer");
    }
    if (!m.redirect_next_hop && !r.diag().failed(r.path("redirect_next_hop"))) {
      missing("redirect_next_hop",
              "required with return_path = \"redirect\": the peer's address on redirect_device");
    }
  }
  readBounded(r, "max_hosts", m.max_hosts, 1, 1 << 20);
  r.rejectUnknown();
  if (good) out = std::move(m);
}

}  // namespace gwsync::syncd::config_detail
