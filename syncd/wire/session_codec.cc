#include "syncd/wire/session_codec.h"

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>

namespace gwsync::syncd {

namespace {

constexpr uint32_t kMaxU8 = 0xff;
constexpr uint32_t kMaxU16 = 0xffff;
// Highest valid enum tcp_conntrack: TCP_CONNTRACK_LISTEN (alias SYN_SENT2); 10 is _MAX.
constexpr uint32_t kMaxTcpState = 9;
// TCP_MAX_WSCALE: RFC 7323 caps the shift at 14.
constexpr uint32_t kMaxTcpWscale = 14;
// Highest valid enum sctp_conntrack: HEARTBEAT_ACKED (kept in the uapi enum); 10 is _MAX.
constexpr uint32_t kMaxSctpState = 9;
constexpr size_t kLabelsSize = std::tuple_size_v<decltype(Session::labels)>;

// Proto3 enums are open: a newer peer may send a value this build has no name for.
std::optional<Family> familyFromProto(v1::IpFamily f) {
  switch (f) {
    case v1::IP_FAMILY_IPV4:
      return Family::kIpv4;
    case v1::IP_FAMILY_IPV6:
      return Family::kIpv6;
    default:
      return std::nullopt;
  }
}

v1::IpFamily familyToProto(Family f) {
  return f == Family::kIpv4 ? v1::IP_FAMILY_IPV4 : v1::IP_FAMILY_IPV6;
}

void addressToProto(const IpAddress& a, std::string* out) {
  out->assign(reinterpret_cast<const char*>(a.bytes.data()), a.size());
}

// Bytes past the address length stay zero: IpAddress compares and hashes all 16.
Result<IpAddress, DecodeError> addressFromProto(const std::string& in, Family family) {
  if (in.size() != 4 && in.size() != 16) return fail(DecodeError::kBadAddressLength);
  IpAddress a;
  a.family = family;
  if (in.size() != a.size()) return fail(DecodeError::kFamilyMismatch);
  std::copy(in.begin(), in.end(), a.bytes.begin());
  return a;
}

// ICMP carries the other protocol's number in the other family; conntrack has no such tuple.
bool protocolFitsFamily(uint8_t proto, Family family) {
  if (proto == l4::kIcmp) return family == Family::kIpv4;
  if (proto == l4::kIcmpv6) return family == Family::kIpv6;
  return true;
}

// Only the fields that are part of the protocol's tuple go on the wire (see the header).
void tupleToProto(const Tuple& t, v1::Tuple* out) {
  addressToProto(t.src, out->mutable_src());
  addressToProto(t.dst, out->mutable_dst());
  out->set_l4_proto(t.proto);
  if (isIcmp(t.proto)) {
    out->set_icmp_id(t.icmp_id);
    out->set_icmp_type(t.icmp_type);
    out->set_icmp_code(t.icmp_code);
  } else if (hasPorts(t.proto)) {
    out->set_src_port(t.src_port);
    out->set_dst_port(t.dst_port);
  }
}

// Fills the protocol-specific part of `t` (whose proto is already valid) from `in`.
std::optional<DecodeError> decodeTupleL4(const v1::Tuple& in, Tuple* t) {
  if (isIcmp(t->proto)) {
    if (in.icmp_id() > kMaxU16 || in.icmp_type() > kMaxU8 || in.icmp_code() > kMaxU8) {
      return DecodeError::kIcmpFieldOutOfRange;
    }
    t->icmp_id = static_cast<uint16_t>(in.icmp_id());
    t->icmp_type = static_cast<uint8_t>(in.icmp_type());
    t->icmp_code = static_cast<uint8_t>(in.icmp_code());
  } else if (hasPorts(t->proto)) {
    if (in.src_port() > kMaxU16 || in.dst_port() > kMaxU16) return DecodeError::kPortOutOfRange;
    t->src_port = static_cast<uint16_t>(in.src_port());
    t->dst_port = static_cast<uint16_t>(in.dst_port());
  }
  return std::nullopt;
}

Result<Tuple, DecodeError> tupleFromProto(const v1::Tuple& in, Family family) {
  Tuple t;
  auto src = addressFromProto(in.src(), family);
  if (!src) return fail(src.error());
  auto dst = addressFromProto(in.dst(), family);
  if (!dst) return fail(dst.error());
  t.src = *src;
  t.dst = *dst;
  if (in.l4_proto() > kMaxU8 || !isSupportedL4(static_cast<uint8_t>(in.l4_proto()))) {
    return fail(DecodeError::kUnsupportedProtocol);
  }
  t.proto = static_cast<uint8_t>(in.l4_proto());
  if (!protocolFitsFamily(t.proto, family)) return fail(DecodeError::kProtocolMismatch);
  if (auto err = decodeTupleL4(in, &t)) return fail(*err);
  return t;
}

Result<Family, DecodeError> familyAndZone(v1::IpFamily family, uint32_t zone) {
  auto f = familyFromProto(family);
  if (!f) return fail(DecodeError::kBadFamily);
  if (zone > kMaxU16) return fail(DecodeError::kZoneOutOfRange);
  return *f;
}

void seqAdjToProto(const SeqAdj& a, v1::SeqAdj* out) {
  out->set_correction_pos(a.correction_pos);
  out->set_offset_before(a.offset_before);
  out->set_offset_after(a.offset_after);
}

SeqAdj seqAdjFromProto(const v1::SeqAdj& in) {
  return SeqAdj{.correction_pos = in.correction_pos(),
                .offset_before = in.offset_before(),
                .offset_after = in.offset_after()};
}

void tcpToProto(const TcpInfo& tcp, v1::TcpInfo* out) {
  out->set_state(tcp.state);
  out->set_flags_orig(tcp.flags_orig);
  out->set_flags_reply(tcp.flags_reply);
  out->set_wscale_orig(tcp.wscale_orig);
  out->set_wscale_reply(tcp.wscale_reply);
}

Result<TcpInfo, DecodeError> tcpFromProto(const v1::TcpInfo& in) {
  if (in.state() > kMaxTcpState || in.wscale_orig() > kMaxTcpWscale ||
      in.wscale_reply() > kMaxTcpWscale || in.flags_orig() > kMaxU8 || in.flags_reply() > kMaxU8) {
    return fail(DecodeError::kTcpFieldOutOfRange);
  }
  return TcpInfo{.state = static_cast<uint8_t>(in.state()),
                 .flags_orig = static_cast<uint8_t>(in.flags_orig()),
                 .flags_reply = static_cast<uint8_t>(in.flags_reply()),
                 .wscale_orig = static_cast<uint8_t>(in.wscale_orig()),
                 .wscale_reply = static_cast<uint8_t>(in.wscale_reply())};
}

void sctpToProto(const SctpInfo& sctp, v1::SctpInfo* out) {
  out->set_state(sctp.state);
  out->set_vtag_orig(sctp.vtag_orig);
  out->set_vtag_reply(sctp.vtag_reply);
}

Result<SctpInfo, DecodeError> sctpFromProto(const v1::SctpInfo& in) {
  if (in.state() > kMaxSctpState) return fail(DecodeError::kSctpStateOutOfRange);
  return SctpInfo{.state = static_cast<uint8_t>(in.state()),
                  .vtag_orig = in.vtag_orig(),
                  .vtag_reply = in.vtag_reply()};
}

// The protocol-specific optional parts: present on the wire only for their own protocol.
std::optional<DecodeError> decodeProtoInfo(const v1::Session& in, Session* s) {
  if (in.has_tcp()) {
    if (s->orig.proto != l4::kTcp) return DecodeError::kTcpInfoOnNonTcp;
    auto tcp = tcpFromProto(in.tcp());
    if (!tcp) return tcp.error();
    s->tcp = *tcp;
  }
  if (in.has_sctp()) {
    if (s->orig.proto != l4::kSctp) return DecodeError::kSctpInfoOnNonSctp;
    auto sctp = sctpFromProto(in.sctp());
    if (!sctp) return sctp.error();
    s->sctp = *sctp;
  }
  if (in.has_seq_adj_orig()) s->seq_adj_orig = seqAdjFromProto(in.seq_adj_orig());
  if (in.has_seq_adj_reply()) s->seq_adj_reply = seqAdjFromProto(in.seq_adj_reply());
  return std::nullopt;
}

std::optional<DecodeError> decodeLabelsAndHelper(const v1::Session& in, Session* s) {
  const std::string& labels = in.labels();
  if (!labels.empty() && labels.size() != kLabelsSize) return DecodeError::kBadLabelsLength;
  std::copy(labels.begin(), labels.end(), s->labels.begin());
  if (in.helper().size() > kMaxHelperName) return DecodeError::kHelperTooLong;
  if (in.helper().find('\0') != std::string::npos) return DecodeError::kBadHelperName;
  s->helper = in.helper();
  return std::nullopt;
}

}  // namespace

std::string_view reasonName(DecodeError e) {
  switch (e) {
    case DecodeError::kMissingTuple:
      return "missing_tuple";
    case DecodeError::kBadFamily:
      return "bad_family";
    case DecodeError::kBadAddressLength:
      return "bad_address_length";
    case DecodeError::kFamilyMismatch:
      return "family_mismatch";
    case DecodeError::kUnsupportedProtocol:
      return "unsupported_protocol";
    case DecodeError::kProtocolMismatch:
      return "protocol_mismatch";
    case DecodeError::kPortOutOfRange:
      return "port_out_of_range";
    case DecodeError::kIcmpFieldOutOfRange:
      return "icmp_field_out_of_range";
    case DecodeError::kZoneOutOfRange:
      return "zone_out_of_range";
    case DecodeError::kBadLabelsLength:
      return "bad_labels_length";
    case DecodeError::kTcpInfoOnNonTcp:
      return "tcp_info_on_non_tcp";
    case DecodeError::kSctpInfoOnNonSctp:
      return "sctp_info_on_non_sctp";
    case DecodeError::kTcpFieldOutOfRange:
      return "tcp_field_out_of_range";
    case DecodeError::kSctpStateOutOfRange:
      return "sctp_state_out_of_range";
    case DecodeError::kHelperTooLong:
      return "helper_too_long";
    case DecodeError::kBadHelperName:
      return "bad_helper_name";
  }
  return "unknown";  // not reached for a valid enumerator; keeps -Wreturn-type quiet
}

void toProto(const Session& s, v1::Session* out) {
  out->Clear();
  out->set_family(familyToProto(s.orig.src.family));
  out->set_zone(s.zone);
  tupleToProto(s.orig, out->mutable_orig());
  tupleToProto(s.reply, out->mutable_reply());
  out->set_status(s.status);
  out->set_timeout(s.timeout);
  out->set_mark(s.mark);
  if (hasLabels(s)) {
    out->set_labels(reinterpret_cast<const char*>(s.labels.data()), s.labels.size());
  }
  if (s.tcp) tcpToProto(*s.tcp, out->mutable_tcp());
  if (s.sctp) sctpToProto(*s.sctp, out->mutable_sctp());
  if (s.seq_adj_orig) seqAdjToProto(*s.seq_adj_orig, out->mutable_seq_adj_orig());
  if (s.seq_adj_reply) seqAdjToProto(*s.seq_adj_reply, out->mutable_seq_adj_reply());
  out->set_helper(s.helper);
  out->set_owner(s.owner);
  out->set_version(s.version);
}

void toProto(const SessionKey& k, v1::SessionKey* out) {
  out->Clear();
  out->set_family(familyToProto(k.orig.src.family));
  out->set_zone(k.zone);
  tupleToProto(k.orig, out->mutable_orig());
}

Result<Session, DecodeError> fromProto(const v1::Session& in) {
  auto family = familyAndZone(in.family(), in.zone());
  if (!family) return fail(family.error());
  if (!in.has_orig() || !in.has_reply()) return fail(DecodeError::kMissingTuple);
  auto orig = tupleFromProto(in.orig(), *family);
  if (!orig) return fail(orig.error());
  auto reply = tupleFromProto(in.reply(), *family);
  if (!reply) return fail(reply.error());
  if (orig->proto != reply->proto) return fail(DecodeError::kProtocolMismatch);

  Session s;
  s.zone = static_cast<uint16_t>(in.zone());
  s.orig = *orig;
  s.reply = *reply;
  s.status = in.status();
  s.timeout = in.timeout();
  s.mark = in.mark();
  if (auto err = decodeLabelsAndHelper(in, &s)) return fail(*err);
  if (auto err = decodeProtoInfo(in, &s)) return fail(*err);
  s.owner = in.owner();
  s.version = in.version();
  return s;
}

Result<SessionKey, DecodeError> fromProto(const v1::SessionKey& in) {
  auto family = familyAndZone(in.family(), in.zone());
  if (!family) return fail(family.error());
  if (!in.has_orig()) return fail(DecodeError::kMissingTuple);
  auto orig = tupleFromProto(in.orig(), *family);
  if (!orig) return fail(orig.error());
  return SessionKey{.zone = static_cast<uint16_t>(in.zone()), .orig = *orig};
}

}  // namespace gwsync::syncd
