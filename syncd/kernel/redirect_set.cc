#include "syncd/kernel/redirect_set.h"

#include <net/if.h>
#include <nftables/libnftables.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace gwsync::syncd {

namespace {

const std::string kTable = std::string("netdev ") + kRedirectTable;

// The part of a tuple the sets hold; the ICMP fields play no part in them.
Tuple flowKey(const Tuple& t) {
  return Tuple{.src = t.src, .dst = t.dst, .proto = t.proto, .src_port = t.src_port,
               .dst_port = t.dst_port};
}

bool redirectable(uint8_t proto) {
  return proto == l4::kTcp || proto == l4::kUdp || proto == l4::kUdpLite ||
         proto == l4::kSctp || proto == l4::kDccp;
}

// nftables quotes device names; anything that could end or escape the quotes is refused.
Result<Ok, std::string> checkDevice(const std::string& key, const std::string& name) {
  bool plain = !name.empty() && name.size() < IFNAMSIZ;
  for (const char c : name) {
    plain = plain && c != '"' && c != '\\' && c != '/' &&
            std::isgraph(static_cast<unsigned char>(c));
  }
  if (!plain) return fail("redirect: " + key + " = '" + name + "' is not an interface name");
  if (if_nametoindex(name.c_str()) == 0) {
    return fail("redirect: " + key + " = '" + name + "': unknown device (" +
                std::strerror(errno) + ")");
  }
  return Ok{};
}

// "a . b . proto . sport . dport", as the set's concatenated key takes it.
std::string elementText(const Tuple& t) {
  return t.src.toString() + " . " + t.dst.toString() + " . " + std::to_string(t.proto) + " . " +
         std::to_string(t.src_port) + " . " + std::to_string(t.dst_port);
}

template <class T>
bool number(std::string_view s, T& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Parses one element of a numeric (-nn) listing back into a flow.
std::optional<Tuple> parseElement(std::string_view text) {
  std::string_view part[5];
  for (int i = 0; i < 5; ++i) {
    const size_t dot = text.find(" . ");
    if ((dot == std::string_view::npos) != (i == 4)) return std::nullopt;
    part[i] = trim(text.substr(0, dot));
    if (dot != std::string_view::npos) text.remove_prefix(dot + 3);
  }
  Tuple t;
  auto src = IpAddress::parse(part[0]);
  auto dst = IpAddress::parse(part[1]);
  if (!src || !dst || !number(part[2], t.proto) || !number(part[3], t.src_port) ||
      !number(part[4], t.dst_port)) {
    return std::nullopt;
  }
  t.src = *src;
  t.dst = *dst;
  return t;
}

// The value after `word ` in text ("packets 12 bytes 3400").
std::optional<uint64_t> valueAfter(std::string_view text, std::string_view word) {
  const size_t at = text.find(word);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(at + word.size());
  rest = rest.substr(0, rest.find_first_of(" \n\t"));
  uint64_t v = 0;
  if (!number(rest, v)) return std::nullopt;
  return v;
}

}  // namespace

void RedirectSet::CtxDeleter::operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }

Result<RedirectSet, std::string> RedirectSet::open(RedirectOptions options) {
  if (options.ingress_devices.empty()) {
    return fail(std::string("redirect: ingress_devices is empty: name the interfaces where "
                            "packets of moved flows arrive"));
  }
  for (const std::string& dev : options.ingress_devices) {
    if (auto r = checkDevice("ingress_devices", dev); !r) return fail(r.error());
  }
  if (auto r = checkDevice("peer_device", options.peer_device); !r) return fail(r.error());
  if (!options.peer_v4 && !options.peer_v6) {
    return fail(std::string("redirect: no next hop: set peer_v4 and/or peer_v6"));
  }
  if (options.peer_v4 && options.peer_v4->family != Family::kIpv4) {
    return fail("redirect: peer_v4 = " + options.peer_v4->toString() + " is not IPv4");
  }
  if (options.peer_v6 && options.peer_v6->family != Family::kIpv6) {
    return fail("redirect: peer_v6 = " + options.peer_v6->toString() + " is not IPv6");
  }
  if (options.batch_elements == 0) return fail(std::string("redirect: batch_elements = 0"));
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) return fail(std::string("redirect: nft_ctx_new failed"));
  RedirectSet set(ctx, std::move(options));
  // Buffered: a daemon must not print nftables' output or errors on its own stdout/stderr.
  if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
    return fail(std::string("redirect: nft_ctx_buffer_output/error failed"));
  }
  // Numbers for protocols and ports, so that listings parse back into tuples.
  nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_NUMERIC_ALL);
  return set;
}

std::string RedirectSet::tableText() const {
  const char* key4 = "ip saddr . ip daddr . meta l4proto . th sport . th dport";
  const char* key6 = "ip6 saddr . ip6 daddr . meta l4proto . th sport . th dport";
  std::string t = "table " + kTable + " {\n";
  t += "  counter redirected4 { }\n  counter redirected6 { }\n";
  t += std::string("  set moved4 { typeof ") + key4 + "; }\n";
  t += std::string("  set moved6 { typeof ") + key6 + "; }\n";
  for (size_t i = 0; i < options_.ingress_devices.size(); ++i) {
    // Priority -500: ahead of any other ingress chain an operator may have on the device.
    t += "  chain ingress" + std::to_string(i) + " {\n";
    t += "    type filter hook ingress device \"" + options_.ingress_devices[i] +
         "\" priority -500; policy accept;\n";
    const std::string dev = " device \"" + options_.peer_device + "\"\n";
    if (options_.peer_v4) {
      t += std::string("    ") + key4 + " @moved4 counter name \"redirected4\" fwd ip to " +
           options_.peer_v4->toString() + dev;
    }
    if (options_.peer_v6) {
      t += std::string("    ") + key6 + " @moved6 counter name \"redirected6\" fwd ip6 to " +
           options_.peer_v6->toString() + dev;
    }
    t += "  }\n";
  }
  return t + "}\n";
}

Result<Ok, std::string> RedirectSet::create() {
  // `add` makes the delete valid when there is no table yet; all three are one transaction.
  return run("add table " + kTable + "\ndelete table " + kTable + "\n" + tableText());
}

Result<Ok, std::string> RedirectSet::destroy() {
  return run("add table " + kTable + "\ndelete table " + kTable + "\n");
}

Result<Ok, std::string> RedirectSet::add(std::span<const Tuple> flows) {
  for (const Tuple& t : flows) {
    if (!redirectable(t.proto)) {
      return fail("redirect: flow " + toString(t) + ": protocol " + std::to_string(t.proto) +
                  " has no ports to match");
    }
    if (t.src.family != t.dst.family ||
        !(t.src.family == Family::kIpv4 ? options_.peer_v4 : options_.peer_v6)) {
      return fail("redirect: flow " + toString(t) + ": no next hop for its family");
    }
  }
  return change("add", flows);
}

Result<Ok, std::string> RedirectSet::remove(std::span<const Tuple> flows) {
  const uint64_t removed_before = stats_.removed;
  if (auto r = change("delete", flows); r) return r;
  // nftables 1.0.6 has no `destroy element`: one missing element fails the whole transaction.
  // So delete only what the kernel holds (as conntrackd repairs its races), in one retry.
  auto present = elements();
  if (!present) return fail(present.error());
  std::sort(present->begin(), present->end());
  std::vector<Tuple> there;
  for (const Tuple& t : flows) {
    if (std::binary_search(present->begin(), present->end(), flowKey(t))) there.push_back(t);
  }
  // Batches of the first attempt that went through are not absent, only gone already.
  stats_.absent += flows.size() - there.size() - (stats_.removed - removed_before);
  return change("delete", there);
}

Result<Ok, std::string> RedirectSet::change(const char* verb, std::span<const Tuple> flows) {
  for (const Family family : {Family::kIpv4, Family::kIpv6}) {
    const std::string head = std::string(verb) + " element " + kTable +
                             (family == Family::kIpv4 ? " moved4 { " : " moved6 { ");
    std::string cmd;
    size_t n = 0;
    auto flush = [&]() -> Result<Ok, std::string> {
      if (n == 0) return Ok{};
      auto r = run(head + cmd + " }\n");
      if (!r) return fail(std::string("redirect: ") + verb + " " + std::to_string(n) +
                          " elements: " + r.error());
      ++stats_.transactions;
      (verb[0] == 'a' ? stats_.added : stats_.removed) += n;
      cmd.clear();
      n = 0;
      return Ok{};
    };
    for (const Tuple& t : flows) {
      if (t.src.family != family) continue;
      if (n != 0) cmd += ", ";
      cmd += elementText(t);
      if (++n == options_.batch_elements) {
        if (auto r = flush(); !r) return r;
      }
    }
    if (auto r = flush(); !r) return r;
  }
  return Ok{};
}

Result<std::vector<Tuple>, std::string> RedirectSet::elements() {
  std::vector<Tuple> out;
  for (const char* set : {"moved4", "moved6"}) {
    auto text = output("list set " + kTable + " " + set);
    if (!text) return fail(text.error());
    const size_t open = text->find("elements = {");
    if (open == std::string::npos) continue;  // an empty set lists no elements line
    const size_t close = text->find('}', open);
    std::string_view body(*text);
    body = body.substr(open + 12, close - open - 12);
    while (!body.empty()) {
      const size_t comma = body.find(',');
      const std::string_view item = trim(body.substr(0, comma));
      body.remove_prefix(comma == std::string_view::npos ? body.size() : comma + 1);
      auto t = parseElement(item);
      if (!t) return fail("redirect: cannot read element '" + std::string(item) + "' of " + set);
      out.push_back(*t);
    }
  }
  return out;
}

Result<size_t, std::string> RedirectSet::size() {
  auto e = elements();
  if (!e) return fail(e.error());
  return e->size();
}

Result<RedirectCounters, std::string> RedirectSet::counters() {
  RedirectCounters c;
  for (const bool v4 : {true, false}) {
    auto text = output("list counter " + kTable + (v4 ? " redirected4" : " redirected6"));
    if (!text) return fail(text.error());
    const auto packets = valueAfter(*text, "packets ");
    const auto bytes = valueAfter(*text, "bytes ");
    if (!packets || !bytes) return fail("redirect: cannot read counter in: " + *text);
    (v4 ? c.v4 : c.v6) = RedirectCounter{*packets, *bytes};
  }
  return c;
}

Result<std::string, std::string> RedirectSet::listTable() { return output("list table " + kTable); }

Result<Ok, std::string> RedirectSet::run(const std::string& commands) {
  auto r = output(commands);
  if (!r) return fail(r.error());
  return Ok{};
}

Result<std::string, std::string> RedirectSet::output(const std::string& commands) {
  const int rc = nft_run_cmd_from_buffer(ctx_.get(), commands.c_str());
  // Reading a buffer resets it, so nothing piles up across calls.
  std::string out = nft_ctx_get_output_buffer(ctx_.get());
  std::string err = nft_ctx_get_error_buffer(ctx_.get());
  if (rc == 0) return out;
  err = err.substr(0, err.find('\n'));
  if (err.empty()) err = "nftables refused the commands (no message)";
  return fail("nftables: " + err);
}

}  // namespace gwsync::syncd
