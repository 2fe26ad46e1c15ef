// Writes the seed corpora of the fuzz targets: well-formed frames of every kind and ctnetlink
// messages of every protocol, so the fuzzers start from inputs that reach deep into the code.
// Run by hand when the formats change: gwsync-fuzz-seeds test/fuzz/corpus
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "syncd/core/host_frame_builder.h"
#include "syncd/kernel/ct_message.h"
#include "syncd/wire/frame_codec.h"

namespace gs = gwsync::syncd;

namespace {

void write(const std::filesystem::path& dir, const std::string& name, const std::string& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

gs::Session session(uint8_t proto, bool v6, bool nat) {
  gs::Session s;
  s.orig.src = *gs::IpAddress::parse(v6 ? "2001:db8::10" : "192.0.2.10");
  s.orig.dst = *gs::IpAddress::parse(v6 ? "2001:db8:1::10" : "203.0.113.10");
  s.orig.proto = proto;
  if (gs::isIcmp(proto)) {
    s.orig.icmp_id = 7;
    s.orig.icmp_type = proto == gs::l4::kIcmp ? 8 : 128;
  } else {
    s.orig.src_port = 40000;
    s.orig.dst_port = 443;
  }
  s.reply = gs::invert(s.orig);
  if (nat) s.reply.dst = *gs::IpAddress::parse(v6 ? "2001:db8:100::1" : "198.51.100.100");
  s.status = gs::status::kSeenReply | gs::status::kAssured;
  s.timeout = 300;
  s.mark = 5;
  if (proto == gs::l4::kTcp) s.tcp = gs::TcpInfo{.state = 3, .flags_orig = 1, .wscale_orig = 7};
  if (proto == gs::l4::kSctp) s.sctp = gs::SctpInfo{.state = 3, .vtag_orig = 1, .vtag_reply = 2};
  s.owner = 1;
  s.version = 9;
  return s;
}

std::vector<gs::SyncMessage> messages() {
  gs::HelloMsg hello;
  hello.node_id = 1;
  hello.site = "a";
  hello.epoch = 7;
  hello.peer_epoch = 5;
  hello.next_expected = 3;
  gs::ItemsMsg items;
  items.epoch = 7;
  items.first_seq = 1;
  gs::Item begin;
  begin.kind = gs::Item::Kind::kBulkBegin;
  begin.bulk_id = 1;
  begin.stream_start = true;
  items.items.push_back(begin);
  for (uint8_t p : {gs::l4::kTcp, gs::l4::kUdp, gs::l4::kIcmp, gs::l4::kSctp, gs::l4::kGre}) {
    gs::Item up;
    up.session = session(p, false, true);
    items.items.push_back(up);
  }
  gs::Item v6;
  v6.session = session(gs::l4::kTcp, true, true);
  items.items.push_back(v6);
  gs::Item rm;
  rm.kind = gs::Item::Kind::kRemove;
  rm.session = session(gs::l4::kUdp, false, false);
  items.items.push_back(rm);
  gs::Item end;
  end.kind = gs::Item::Kind::kBulkEnd;
  end.bulk_id = 1;
  end.bulk_sessions = 6;
  items.items.push_back(end);
  return {hello, items, gs::AckMsg{5, 2}, gs::ResyncRequestMsg{1}};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: gwsync-fuzz-seeds CORPUS_DIR\n");
    return 2;
  }
  const std::filesystem::path root(argv[1]);
  std::string stream;
  int n = 0;
  for (const auto& m : messages()) {
    std::string one;
    gs::encodeFrame(m, one);
    stream += one;
    write(root / "frame_decoder", "msg" + std::to_string(n), std::string(1, '\x07') + one);
    ++n;
  }
  write(root / "frame_decoder", "stream", std::string(1, '\x20') + stream);
  write(root / "peer_apply", "stream", stream);
  n = 0;
  for (uint8_t p : {gs::l4::kTcp, gs::l4::kUdp, gs::l4::kIcmp, gs::l4::kIcmpv6, gs::l4::kSctp}) {
    for (bool v6 : {false, true}) {
      if ((p == gs::l4::kIcmp && v6) || (p == gs::l4::kIcmpv6 && !v6)) continue;
      std::vector<uint8_t> buf(gs::kMaxRequestSize);
      const size_t len = gs::buildRequest(gs::CtOp::kCreate, session(p, v6, true), 1, true, buf);
      write(root / "ct_message", "ct" + std::to_string(n++),
            std::string(reinterpret_cast<const char*>(buf.data()), len));
    }
  }
  // What a LAN shows host detection: announcements, the locality probe and its answers.
  const auto vm = *gs::MacAddress::parse("02:00:00:00:00:10");
  const auto virt = *gs::MacAddress::parse("02:00:5e:00:01:01");
  const auto vm4 = *gs::IpAddress::parse("192.0.2.10");
  const auto vm6 = *gs::IpAddress::parse("2001:db8::10");
  const auto gw4 = *gs::IpAddress::parse("192.0.2.1");
  const auto gw6 = *gs::IpAddress::parse("2001:db8::1");
  const std::vector<std::pair<std::string, std::vector<uint8_t>>> frames = {
      {"garp", gs::buildGratuitousArp(vm, vm4)},
      {"rarp", gs::buildRarpAnnouncement(vm)},
      {"unsolicited_na", gs::buildUnsolicitedNa(vm, vm6)},
      {"arp_probe", gs::buildArpProbe(virt, gw4, vm, vm4)},
      {"ns_probe", gs::buildNsProbe(virt, gw6, vm, vm6)},
      {"arp_reply", gs::buildArp({.operation = 2, .eth_dst = virt, .eth_src = vm, .sender_mac = vm,
                                  .sender_ip = vm4, .target_mac = virt, .target_ip = gw4})},
      {"solicited_na", gs::buildNd({.advertisement = true, .eth_dst = virt, .eth_src = vm,
                                    .src = vm6, .dst = gw6, .target = vm6, .lla = vm,
                                    .solicited = true, .override_flag = true})},
  };
  for (const auto& [name, bytes] : frames) {
    write(root / "host_frame", name, std::string(bytes.begin(), bytes.end()));
  }
  std::printf("seeds written under %s\n", argv[1]);
  return 0;
}
