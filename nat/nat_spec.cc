#include "nat/nat_spec.h"

#include <algorithm>
#include <utility>

namespace gwsync::nat {

using syncd::Family;
using syncd::IpAddress;

namespace {

constexpr size_t kMaxPoolName = 32;
constexpr size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1

std::string familyName(Family f) { return f == Family::kIpv4 ? "IPv4" : "IPv6"; }

// Pool names appear in nftables comments and in metric labels: keep them plain.
bool validPoolName(std::string_view name) {
  const auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  };
  return !name.empty() && name.size() <= kMaxPoolName && std::all_of(name.begin(), name.end(), ok);
}

// The kernel's rule (dev_valid_name), plus no quotes or backslashes because the name is written
// into nftables text inside double quotes. A trailing '*' is nftables' wildcard and is allowed.
std::optional<std::string> interfaceProblem(std::string_view name) {
  if (name.empty()) return "empty interface name";
  if (name.size() > kMaxInterfaceName) {
    return "longer than " + std::to_string(kMaxInterfaceName) + " bytes (IFNAMSIZ)";
  }
  if (name == "." || name == "..") return "not an interface name";
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '/' || c == ':' || c == '"' || c == '\\') {
      return "contains a character an interface name cannot hold (space, '/', ':', quote)";
    }
  }
  return std::nullopt;
}

std::optional<uint32_t> parseNodeId(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  uint32_t v = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v == 0 || v > 65535) return std::nullopt;
  return v;
}

class Builder {
 public:
  Builder(const NatSpec& spec, std::span<const uint32_t> nodes) : spec_(spec) {
    out_.nodes.assign(nodes.begin(), nodes.end());
    std::sort(out_.nodes.begin(), out_.nodes.end());
    out_.nodes.erase(std::unique(out_.nodes.begin(), out_.nodes.end()), out_.nodes.end());
  }

  NatResult build() {
    if (out_.nodes.empty() || out_.nodes.front() == 0) {
      add("node.id", "", "NAT needs the node ids of the pair (node.id, sync.peer_id), 1..65535");
      return syncd::fail(std::move(errors_));  // every partition would fail for this one reason
    }
    readInside();
    readInterface();
    for (size_t i = 0; i < spec_.pools.size(); ++i) readPool(i);
    for (size_t i = 0; i < spec_.statics.size(); ++i) readStatic(i);
    if (!errors_.empty()) return syncd::fail(std::move(errors_));
    return std::move(out_);
  }

 private:
  void add(std::string key, std::string value, std::string message) {
    errors_.push_back({std::move(key), std::move(value), std::move(message)});
  }
  static std::string poolKey(size_t i, std::string_view field) {
    return "nat.pool[" + std::to_string(i) + "]." + std::string(field);
  }
  static std::string staticKey(size_t i, std::string_view field) {
    return "nat.static[" + std::to_string(i) + "]." + std::string(field);
  }

  void readInside() {
    for (size_t i = 0; i < spec_.inside.size(); ++i) {
      auto p = parsePrefix(spec_.inside[i]);
      if (!p) {
        add("nat.inside[" + std::to_string(i) + "]", quoted(spec_.inside[i]), p.error());
      } else {
        out_.inside.push_back(*p);
      }
    }
  }

  void readInterface() {
    const std::string& name = spec_.outside_interface;
    if (name.empty()) {
      if (!spec_.pools.empty() || !spec_.statics.empty()) {
        add("nat.outside_interface", "",
            "required with nat.pool or nat.static: the interface translated traffic leaves by");
      }
      return;
    }
    if (auto problem = interfaceProblem(name)) {
      return add("nat.outside_interface", quoted(name), *problem);
    }
    out_.outside_interface = name;
  }

  void readPool(size_t i);
  bool readPoolName(size_t i, const PoolSpec& spec);
  bool readPoolAddresses(size_t i, const std::string& label, const PoolSpec& spec, Pool& pool);
  bool readPoolInside(size_t i, const std::string& label, const PoolSpec& spec, Pool& pool);
  bool readPartitions(size_t i, const std::string& label, const PoolSpec& spec, Pool& pool);
  void checkInsideOverlap(size_t i, const std::string& label, const PoolSpec& spec,
                          const Pool& pool);
  void readStatic(size_t i);

  const NatSpec& spec_;
  NatConfig out_;
  std::vector<NatError> errors_;
};

bool Builder::readPoolName(size_t i, const PoolSpec& spec) {
  if (!validPoolName(spec.name)) {
    add(poolKey(i, "name"), spec.name.empty() ? "" : quoted(spec.name),
        "pool names are 1.." + std::to_string(kMaxPoolName) +
            " characters of A-Z, a-z, 0-9, '_', '-', '.'");
    return false;
  }
  for (size_t j = 0; j < i; ++j) {
    if (spec_.pools[j].name == spec.name) {
      add(poolKey(i, "name"), quoted(spec.name),
          "duplicate pool name: nat.pool[" + std::to_string(j) + "] is called that too");
      return false;
    }
  }
  return true;
}

void Builder::readPool(size_t i) {
  const PoolSpec& spec = spec_.pools[i];
  const bool named = readPoolName(i, spec);
  const std::string label = named ? "pool \"" + spec.name + "\": " : "";
  Pool pool;
  pool.name = spec.name;
  bool good = readPoolAddresses(i, label, spec, pool);
  const std::string ports_text = spec.ports.value_or(std::string(kDefaultPoolPorts));
  auto ports = parsePortRange(ports_text);
  if (!ports) {
    add(poolKey(i, "ports"), quoted(ports_text), label + ports.error());
    good = false;
  } else {
    pool.ports = *ports;
  }
  if (!good) return;  // inside and partitions are judged against a sound family and range
  good = readPoolInside(i, label, spec, pool) && readPartitions(i, label, spec, pool);
  if (!good || !named) return;
  checkInsideOverlap(i, label, spec, pool);
  out_.pools.push_back(std::move(pool));
}

bool Builder::readPoolAddresses(size_t i, const std::string& label, const PoolSpec& spec,
                                Pool& pool) {
  if (spec.addresses.empty()) {
    add(poolKey(i, "addresses"), "", label + "a pool needs at least one public address");
    return false;
  }
  bool good = true;
  for (size_t a = 0; a < spec.addresses.size(); ++a) {
    const std::string key = poolKey(i, "addresses[" + std::to_string(a) + "]");
    const std::string& text = spec.addresses[a];
    const auto ip = IpAddress::parse(text);
    if (!ip) {
      add(key, quoted(text), label + "not an IPv4 or IPv6 address");
      good = false;
      continue;
    }
    if (!pool.addresses.empty() && ip->family != pool.family) {
      add(key, quoted(text),
          label + "mixed families: " + text + " is " + familyName(ip->family) + " but " +
              pool.addresses.front().toString() + " is " + familyName(pool.family) +
              " (one pool per family)");
      good = false;
      continue;
    }
    if (pool.hasAddress(*ip)) {
      add(key, quoted(text), label + text + " is listed twice");
      good = false;
      continue;
    }
    if (const Pool* other = out_.poolWithAddress(*ip)) {
      add(key, quoted(text), label + text + " is already in pool \"" + other->name + "\"");
      good = false;
      continue;
    }
    if (pool.addresses.empty()) pool.family = ip->family;
    pool.addresses.push_back(*ip);
  }
  return good;
}

bool Builder::readPoolInside(size_t i, const std::string& label, const PoolSpec& spec, Pool& pool) {
  if (!spec.inside) {
    for (const Prefix& p : out_.inside) {
      if (p.addr.family == pool.family) pool.inside.push_back(p);
    }
    if (pool.inside.empty()) {
      add(poolKey(i, "inside"), "",
          label + "no " + familyName(pool.family) +
              " prefix in nat.inside (or the pool's own inside): it would translate nothing");
      return false;
    }
    return true;
  }
  bool good = true;
  if (spec.inside->empty()) {
    add(poolKey(i, "inside"), "[]", label + "empty: the pool would translate nothing");
    return false;
  }
  for (size_t k = 0; k < spec.inside->size(); ++k) {
    const std::string key = poolKey(i, "inside[" + std::to_string(k) + "]");
    const std::string& text = (*spec.inside)[k];
    auto p = parsePrefix(text);
    if (!p) {
      add(key, quoted(text), label + p.error());
      good = false;
    } else if (p->addr.family != pool.family) {
      add(key, quoted(text),
          label + "mixed families: an " + familyName(p->addr.family) + " prefix for a pool of " +
              familyName(pool.family) + " addresses");
      good = false;
    } else {
      pool.inside.push_back(*p);
    }
  }
  return good;
}

bool Builder::readPartitions(size_t i, const std::string& label, const PoolSpec& spec, Pool& pool) {
  if (spec.partitions.empty()) {
    auto derived = derivePartitions(pool.ports, out_.nodes);
    if (!derived) {
      add(poolKey(i, "ports"), quoted(pool.ports.toString()), label + derived.error());
      return false;
    }
    pool.partitions = std::move(*derived);
    return true;
  }
  bool good = true;
  for (const PartitionSpec& p : spec.partitions) {
    const std::string key = poolKey(i, "partitions." + p.node);
    const auto node = parseNodeId(p.node);
    auto ports = parsePortRange(p.ports);
    if (!node) {
      add(key, quoted(p.ports), label + "'" + p.node + "' is not a node id (1..65535)");
      good = false;
    } else if (!ports) {
      add(key, quoted(p.ports), label + ports.error());
      good = false;
    } else {
      pool.partitions.push_back({*node, *ports});
    }
  }
  if (!good) return false;
  for (const PartitionProblem& problem : checkPartitions(pool.ports, pool.partitions, out_.nodes)) {
    const bool entry = problem.entry != PartitionProblem::kNoEntry;
    add(poolKey(i, "partitions." + (entry ? spec.partitions[problem.entry].node
                                          : std::to_string(problem.node))),
        entry ? quoted(spec.partitions[problem.entry].ports) : "", label + problem.message);
    good = false;
  }
  std::sort(pool.partitions.begin(), pool.partitions.end());
  pool.explicit_partitions = true;
  return good;
}

// In the nftables chain the first matching pool rule wins; overlapping sources would make the
// later pool silently unused for them, so the config must say which pool a source uses.
void Builder::checkInsideOverlap(size_t i, const std::string& label, const PoolSpec& spec,
                                 const Pool& pool) {
  for (const Pool& other : out_.pools) {
    if (other.family != pool.family) continue;
    for (const Prefix& mine : pool.inside) {
      for (const Prefix& theirs : other.inside) {
        if (!mine.overlaps(theirs)) continue;
        add(poolKey(i, "inside"), spec.inside ? quoted(mine.toString()) : "",
            label + "inside " + mine.toString() + " overlaps " + theirs.toString() + " of pool \"" +
                other.name +
                "\": a connection from there would match both (give each pool its own inside)");
        return;
      }
    }
  }
}

void Builder::readStatic(size_t i) {
  const StaticSpec& spec = spec_.statics[i];
  const auto inside = IpAddress::parse(spec.inside);
  const auto pub = IpAddress::parse(spec.public_addr);
  if (!inside) add(staticKey(i, "inside"), quoted(spec.inside), "not an IPv4 or IPv6 address");
  if (!pub) add(staticKey(i, "public"), quoted(spec.public_addr), "not an IPv4 or IPv6 address");
  if (!inside || !pub) return;
  const std::string label = "1:1 mapping " + spec.inside + " -> " + spec.public_addr + ": ";
  const std::string key = staticKey(i, "public");
  if (inside->family != pub->family) {
    return add(key, quoted(spec.public_addr),
               label + "mixed families: " + familyName(inside->family) + " inside, " +
                   familyName(pub->family) + " public");
  }
  if (const Pool* pool = out_.poolWithAddress(*pub)) {
    return add(key, quoted(spec.public_addr),
               label + "the public address is in pool \"" + pool->name +
                   "\", whose SNAT would hand its ports to other hosts");
  }
  if (out_.staticByPublic(*pub) != nullptr) {
    return add(key, quoted(spec.public_addr), label + "public address mapped twice");
  }
  if (out_.staticByInside(*inside) != nullptr) {
    return add(staticKey(i, "inside"), quoted(spec.inside), label + "inside address mapped twice");
  }
  out_.statics.push_back({*inside, *pub});
}

}  // namespace

std::string format(const NatError& e) {
  if (e.key.empty()) return e.message;
  std::string out = e.key;
  if (!e.value.empty()) out += " = " + e.value;
  return out + ": " + e.message;
}

NatResult buildNatConfig(const NatSpec& spec, std::span<const uint32_t> nodes) {
  return Builder(spec, nodes).build();
}

}  // namespace gwsync::nat
