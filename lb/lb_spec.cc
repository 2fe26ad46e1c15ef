#include "lb/lb_spec.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include "lb/maglev.h"

namespace gwsync::lb {

using syncd::Family;
using syncd::IpAddress;

namespace {

constexpr size_t kMaxServiceName = 32;
constexpr int64_t kMaxWeight = 10000;

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string familyName(Family f) { return f == Family::kIpv4 ? "IPv4" : "IPv6"; }

// Service names become nftables map names (svc_NAME) and metric labels: keep them plain.
bool validName(std::string_view name) {
  const auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  };
  return !name.empty() && name.size() <= kMaxServiceName && std::all_of(name.begin(), name.end(), ok);
}

class Builder {
 public:
  explicit Builder(const LbSpec& spec) : spec_(spec) {}

  LbResult build() {
    if (spec_.seed) {
      if (*spec_.seed < 0 || *spec_.seed > int64_t{UINT32_MAX}) {
        add("lb.seed", std::to_string(*spec_.seed), "must be 0..4294967295 (a 32-bit jhash seed)");
      } else {
        out_.seed = static_cast<uint32_t>(*spec_.seed);
      }
    }
    for (size_t i = 0; i < spec_.services.size(); ++i) readService(i);
    if (!errors_.empty()) return syncd::fail(std::move(errors_));
    out_.checksum = tableChecksum(out_);
    return std::move(out_);
  }

 private:
  void add(std::string key, std::string value, std::string message) {
    errors_.push_back({std::move(key), std::move(value), std::move(message)});
  }
  static std::string key(size_t i, std::string_view field) {
    return "lb.service[" + std::to_string(i) + "]." + std::string(field);
  }
  static std::string backendKey(size_t i, size_t j, std::string_view field) {
    return key(i, "backend[" + std::to_string(j) + "]." + std::string(field));
  }

  void readService(size_t i);
  bool readHead(size_t i, const std::string& label, Service& svc);
  bool readBackends(size_t i, const std::string& label, Service& svc);
  bool readTableSize(size_t i, const std::string& label, Service& svc);

  const LbSpec& spec_;
  LbConfig out_;
  std::vector<LbError> errors_;
  std::set<std::string> names_;
  std::set<std::tuple<IpAddress, uint8_t, uint16_t>> endpoints_;
};

void Builder::readService(size_t i) {
  const ServiceSpec& spec = spec_.services[i];
  const std::string label = "service \"" + spec.name + "\": ";
  Service svc;
  const bool head = readHead(i, label, svc);
  // Backends are judged even when the head failed (their own errors are independent), but the
  // table needs a valid family and size.
  const bool backends = readBackends(i, label, svc);
  if (!head || !backends || !readTableSize(i, label, svc)) return;
  std::vector<MaglevBackend> mb;
  for (const Backend& b : svc.backends) mb.push_back({b.name(), b.weight});
  svc.table = maglevTable(mb, svc.table_size);
  out_.services.push_back(std::move(svc));
}

bool Builder::readHead(size_t i, const std::string& label, Service& svc) {
  const ServiceSpec& spec = spec_.services[i];
  bool ok = true;
  if (!validName(spec.name)) {
    add(key(i, "name"), spec.name.empty() ? "" : quoted(spec.name),
        spec.name.empty() ? "required" : "must be 1..32 characters of [A-Za-z0-9_-]");
    ok = false;
  } else if (!names_.insert(spec.name).second) {
    add(key(i, "name"), quoted(spec.name), "a service of this name exists already");
    ok = false;
  }
  svc.name = spec.name;
  const auto vip = IpAddress::parse(spec.vip);
  if (!vip) {
    add(key(i, "vip"), spec.vip.empty() ? "" : quoted(spec.vip),
        label + (spec.vip.empty() ? "required" : "not an IPv4 or IPv6 address"));
    ok = false;
  } else {
    svc.vip = *vip;
  }
  if (spec.protocol == "tcp" || spec.protocol == "udp") {
    svc.proto = spec.protocol == "tcp" ? syncd::l4::kTcp : syncd::l4::kUdp;
  } else {
    add(key(i, "protocol"), spec.protocol.empty() ? "" : quoted(spec.protocol),
        label + (spec.protocol.empty() ? "required" : "must be \"tcp\" or \"udp\""));
    ok = false;
  }
  if (spec.port < 1 || spec.port > 65535) {
    add(key(i, "port"), spec.port == 0 ? "" : std::to_string(spec.port),
        label + (spec.port == 0 ? "required (1..65535)" : "must be 1..65535"));
    ok = false;
  } else {
    svc.port = static_cast<uint16_t>(spec.port);
  }
  if (ok && !endpoints_.insert({svc.vip, svc.proto, svc.port}).second) {
    add(key(i, "port"), std::to_string(spec.port),
        label + "another service has VIP:port:protocol " + svc.vip.toString() + ":" +
            std::to_string(svc.port) + ":" + spec.protocol + " already");
    ok = false;
  }
  return ok;
}

bool Builder::readBackends(size_t i, const std::string& label, Service& svc) {
  const ServiceSpec& spec = spec_.services[i];
  if (spec.backends.empty()) {
    add(key(i, "backend"), "", label + "no backends: add at least one [[lb.service.backend]]");
    return false;
  }
  const size_t errors_before = errors_.size();
  std::set<std::string> seen;
  for (size_t j = 0; j < spec.backends.size(); ++j) {
    const BackendSpec& bs = spec.backends[j];
    Backend b;
    const auto addr = IpAddress::parse(bs.address);
    if (!addr) {
      add(backendKey(i, j, "address"), bs.address.empty() ? "" : quoted(bs.address),
          label + (bs.address.empty() ? "required" : "not an IPv4 or IPv6 address"));
      continue;
    }
    b.addr = *addr;
    if (IpAddress::parse(spec.vip) && addr->family != svc.vip.family) {
      add(backendKey(i, j, "address"), quoted(bs.address),
          label + "an " + familyName(addr->family) + " backend for an " +
              familyName(svc.vip.family) + " VIP (one family per service)");
      continue;
    }
    const int64_t port = bs.port.value_or(spec.port);
    if (port < 1 || port > 65535) {
      add(backendKey(i, j, "port"), std::to_string(port), label + "must be 1..65535");
      continue;
    }
    b.port = static_cast<uint16_t>(port);
    const int64_t weight = bs.weight.value_or(1);
    if (weight < 0 || weight > kMaxWeight) {
      add(backendKey(i, j, "weight"), std::to_string(weight),
          label + "must be 0..10000 (0 drains the backend)");
      continue;
    }
    b.weight = static_cast<uint32_t>(weight);
    if (!seen.insert(b.name()).second) {
      add(backendKey(i, j, "address"), quoted(bs.address),
          label + "backend " + b.name() + " is listed twice");
      continue;
    }
    svc.backends.push_back(b);
  }
  if (errors_.size() != errors_before) return false;
  std::sort(svc.backends.begin(), svc.backends.end(),
            [](const Backend& a, const Backend& b) { return a.name() < b.name(); });
  if (std::none_of(svc.backends.begin(), svc.backends.end(),
                   [](const Backend& b) { return b.weight > 0; })) {
    add(key(i, "backend"), "",
        label + "every backend has weight 0: the service would take no new connection "
                "(remove the service instead)");
    return false;
  }
  return true;
}

bool Builder::readTableSize(size_t i, const std::string& label, Service& svc) {
  const ServiceSpec& spec = spec_.services[i];
  // Draining backends count: a weight change must not change M, or every bucket would move.
  const uint64_t minimum = uint64_t{kBucketsPerBackend} * svc.backends.size();
  if (!spec.table_size) {
    const uint64_t size = nextPrime(minimum);
    if (size > kMaxTableSize) {
      add(key(i, "backend"), "",
          label + std::to_string(svc.backends.size()) + " backends need a table of " +
              std::to_string(size) + " buckets, more than " + std::to_string(kMaxTableSize));
      return false;
    }
    svc.table_size = static_cast<uint32_t>(size);
    return true;
  }
  const int64_t size = *spec.table_size;
  const std::string value = std::to_string(size);
  if (size < 2 || size > int64_t{kMaxTableSize}) {
    add(key(i, "table_size"), value,
        label + "must be a prime in " + std::to_string(minimum) + ".." +
            std::to_string(kMaxTableSize));
    return false;
  }
  if (!isPrime(static_cast<uint64_t>(size))) {
    add(key(i, "table_size"), value,
        label + "not a prime (Maglev needs one; the next is " +
            std::to_string(nextPrime(static_cast<uint64_t>(size))) + ")");
    return false;
  }
  if (static_cast<uint64_t>(size) < minimum) {
    add(key(i, "table_size"), value,
        label + "too small for " + std::to_string(svc.backends.size()) +
            " backends: at least " + std::to_string(kBucketsPerBackend) +
            " buckets per backend keeps each within about 1 % of its share (>= " +
            std::to_string(nextPrime(minimum)) + ")");
    return false;
  }
  svc.table_size = static_cast<uint32_t>(size);
  svc.explicit_table_size = true;
  return true;
}

}  // namespace

std::string format(const LbError& e) {
  if (e.key.empty()) return e.message;
  return e.key + (e.value.empty() ? "" : " = " + e.value) + ": " + e.message;
}

LbResult buildLbConfig(const LbSpec& spec) { return Builder(spec).build(); }

}  // namespace gwsync::lb
