#include "syncd/core/peer_table.h"

#include <bit>
#include <cstring>
#include <stdexcept>

namespace gwsync::syncd {

// One peer session. No default member initializers: chunks are allocated uninitialized, so a
// record's memory is touched only when it is handed out.
struct PeerTable::Record {
  uint64_t version;
  int64_t received_ms;
  uint32_t generation;
  uint32_t owner;
  uint32_t status;
  uint32_t timeout;
  uint32_t mark;
  // Orig src, dst, reply src, dst (network order). kFull: addr[0] is the fulls_ index; kV6: the
  // addresses are the record's entry in v6_chunks_.
  uint32_t addr[4];
  uint16_t port[4];  // orig sport, dport, reply sport, dport; kIcmp: id, type << 8 | code per tuple
  uint16_t zone;
  uint8_t proto;
  uint8_t flags;
  uint8_t tcp[5];  // TcpInfo: state, flags_orig, flags_reply, wscale_orig, wscale_reply
};
static_assert(sizeof(PeerTable::Record) == 72);

namespace {

constexpr uint8_t kLive = 1;
constexpr uint8_t kFull = 2;  // the session is in fulls_
constexpr uint8_t kTcp = 4;
constexpr uint8_t kIcmp = 8;  // port[] holds ICMP ids, types and codes
constexpr uint8_t kV6 = 16;   // IPv6: the four addresses are in v6_chunks_
constexpr size_t kNpos = static_cast<size_t>(-1);
constexpr size_t kMinSlots = 1024;
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

uint32_t tagOf(const SessionKey& key) {
  const uint64_t h = SessionKeyHash{}(key);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

bool plainV4(const IpAddress& a) {
  if (a.family != Family::kIpv4) return false;
  for (size_t i = 4; i < a.bytes.size(); ++i) {
    if (a.bytes[i] != 0) return false;
  }
  return true;
}

uint32_t v4Of(const IpAddress& a) {
  uint32_t v;
  std::memcpy(&v, a.bytes.data(), 4);
  return v;
}

IpAddress ipOf(uint32_t v) {
  IpAddress a;
  std::memcpy(a.bytes.data(), &v, 4);
  return a;
}

bool noPorts(const Tuple& t) { return t.src_port == 0 && t.dst_port == 0; }
bool noIcmp(const Tuple& t) { return t.icmp_id == 0 && t.icmp_type == 0 && t.icmp_code == 0; }

enum class Fit { kPorts, kIcmp, kFull };

struct Shape {
  Fit fit = Fit::kFull;
  bool v6 = false;
};

Shape shapeOf(const Session& s) {
  const bool v4 = plainV4(s.orig.src) && plainV4(s.orig.dst) && plainV4(s.reply.src) &&
                  plainV4(s.reply.dst);
  const bool v6 = s.orig.src.family == Family::kIpv6 && s.orig.dst.family == Family::kIpv6 &&
                  s.reply.src.family == Family::kIpv6 && s.reply.dst.family == Family::kIpv6;
  if ((!v4 && !v6) || s.orig.proto != s.reply.proto || hasLabels(s) || s.sctp ||
      s.seq_adj_orig || s.seq_adj_reply || !s.helper.empty()) {
    return {};
  }
  if (noIcmp(s.orig) && noIcmp(s.reply)) return {Fit::kPorts, v6};
  if (noPorts(s.orig) && noPorts(s.reply)) return {Fit::kIcmp, v6};
  return {};
}

IpAddress ip6Of(const uint8_t* bytes) {
  IpAddress a;
  a.family = Family::kIpv6;
  std::memcpy(a.bytes.data(), bytes, 16);
  return a;
}

// v6: the record's four IPv6 addresses (64 bytes), or null for IPv4.
void tupleOf(const PeerTable::Record& r, const uint8_t* v6, int which, uint8_t flags, Tuple& t) {
  if (v6 != nullptr) {
    t.src = ip6Of(v6 + 32 * which);
    t.dst = ip6Of(v6 + 32 * which + 16);
  } else {
    t.src = ipOf(r.addr[2 * which]);
    t.dst = ipOf(r.addr[2 * which + 1]);
  }
  t.proto = r.proto;
  const uint16_t a = r.port[2 * which];
  const uint16_t b = r.port[2 * which + 1];
  if ((flags & kIcmp) != 0) {
    t.icmp_id = a;
    t.icmp_type = static_cast<uint8_t>(b >> 8);
    t.icmp_code = static_cast<uint8_t>(b & 0xff);
  } else {
    t.src_port = a;
    t.dst_port = b;
  }
}

}  // namespace

PeerTable::PeerTable() = default;
PeerTable::PeerTable(PeerTable&&) noexcept = default;
PeerTable& PeerTable::operator=(PeerTable&&) noexcept = default;
PeerTable::~PeerTable() = default;

PeerTable::Record& PeerTable::record(uint32_t i) {
  return chunks_[i >> kChunkShift][i & (kChunk - 1)];
}

const PeerTable::Record& PeerTable::record(uint32_t i) const {
  return chunks_[i >> kChunkShift][i & (kChunk - 1)];
}

bool PeerTable::live(uint32_t i) const { return (record(i).flags & kLive) != 0; }

SessionKey PeerTable::keyAt(uint32_t i) const {
  const Record& r = record(i);
  if ((r.flags & kFull) != 0) {
    const Session& s = *fulls_[r.addr[0]];
    return SessionKey{s.zone, s.orig};
  }
  SessionKey k;
  k.zone = r.zone;
  tupleOf(r, v6Addrs(i), 0, r.flags, k.orig);
  return k;
}

IpAddress PeerTable::addressAt(uint32_t i, int which) const {
  const Record& r = record(i);
  if ((r.flags & kFull) != 0) {
    const Session& s = *fulls_[r.addr[0]];
    const Tuple& t = which < 2 ? s.orig : s.reply;
    return which % 2 == 0 ? t.src : t.dst;
  }
  if (const uint8_t* v6 = v6Addrs(i)) return ip6Of(v6 + 16 * which);
  return ipOf(r.addr[which]);
}

PeerEntry PeerTable::decode(uint32_t i) const {
  const Record& r = record(i);
  PeerEntry e;
  e.generation = r.generation;
  e.received_at = Millis(r.received_ms);
  if ((r.flags & kFull) != 0) {
    e.session = *fulls_[r.addr[0]];
    return e;
  }
  Session& s = e.session;
  s.zone = r.zone;
  const uint8_t* v6 = v6Addrs(i);
  tupleOf(r, v6, 0, r.flags, s.orig);
  tupleOf(r, v6, 1, r.flags, s.reply);
  s.status = r.status;
  s.timeout = r.timeout;
  s.mark = r.mark;
  s.owner = r.owner;
  s.version = r.version;
  if ((r.flags & kTcp) != 0) {
    s.tcp = TcpInfo{r.tcp[0], r.tcp[1], r.tcp[2], r.tcp[3], r.tcp[4]};
  }
  return e;
}

void PeerTable::releaseFull(uint32_t i) {
  Record& r = record(i);
  if ((r.flags & kFull) == 0) return;
  fulls_[r.addr[0]].reset();
  free_fulls_.push_back(r.addr[0]);
  r.flags = 0;
}

void PeerTable::encode(const Session& s, uint64_t generation, Millis received_at, uint32_t i) {
  releaseFull(i);
  Record& r = record(i);
  r.generation = static_cast<uint32_t>(generation);
  r.received_ms = received_at.count();
  const Shape shape = shapeOf(s);
  const Fit f = shape.fit;
  if (f == Fit::kFull) {
    uint32_t slot;
    if (!free_fulls_.empty()) {
      slot = free_fulls_.back();
      free_fulls_.pop_back();
      fulls_[slot] = std::make_unique<Session>(s);
    } else {
      slot = static_cast<uint32_t>(fulls_.size());
      fulls_.push_back(std::make_unique<Session>(s));
    }
    r.addr[0] = slot;
    r.flags = kLive | kFull;
    return;
  }
  r.version = s.version;
  r.owner = s.owner;
  r.status = s.status;
  r.timeout = s.timeout;
  r.mark = s.mark;
  if (shape.v6) {
    uint8_t* v6 = v6Slot(i);
    std::memcpy(v6, s.orig.src.bytes.data(), 16);
    std::memcpy(v6 + 16, s.orig.dst.bytes.data(), 16);
    std::memcpy(v6 + 32, s.reply.src.bytes.data(), 16);
    std::memcpy(v6 + 48, s.reply.dst.bytes.data(), 16);
    std::memset(r.addr, 0, sizeof r.addr);
  } else {
    r.addr[0] = v4Of(s.orig.src);
    r.addr[1] = v4Of(s.orig.dst);
    r.addr[2] = v4Of(s.reply.src);
    r.addr[3] = v4Of(s.reply.dst);
  }
  if (f == Fit::kIcmp) {
    r.port[0] = s.orig.icmp_id;
    r.port[1] = static_cast<uint16_t>(s.orig.icmp_type << 8 | s.orig.icmp_code);
    r.port[2] = s.reply.icmp_id;
    r.port[3] = static_cast<uint16_t>(s.reply.icmp_type << 8 | s.reply.icmp_code);
  } else {
    r.port[0] = s.orig.src_port;
    r.port[1] = s.orig.dst_port;
    r.port[2] = s.reply.src_port;
    r.port[3] = s.reply.dst_port;
  }
  r.zone = s.zone;
  r.proto = s.orig.proto;
  r.flags = static_cast<uint8_t>(kLive | (f == Fit::kIcmp ? kIcmp : 0) | (s.tcp ? kTcp : 0) |
                                 (shape.v6 ? kV6 : 0));
  if (s.tcp) {
    r.tcp[0] = s.tcp->state;
    r.tcp[1] = s.tcp->flags_orig;
    r.tcp[2] = s.tcp->flags_reply;
    r.tcp[3] = s.tcp->wscale_orig;
    r.tcp[4] = s.tcp->wscale_reply;
  } else {
    std::memset(r.tcp, 0, sizeof r.tcp);
  }
}

const uint8_t* PeerTable::v6Addrs(uint32_t i) const {
  if ((record(i).flags & kV6) == 0) return nullptr;
  return v6_chunks_[i >> kChunkShift][i & (kChunk - 1)].data();
}

uint8_t* PeerTable::v6Slot(uint32_t i) {
  const size_t chunk = i >> kChunkShift;
  if (chunk >= v6_chunks_.size()) v6_chunks_.resize(chunk + 1);
  // Allocated for a chunk when its first IPv6 session arrives; untouched pages cost nothing.
  if (!v6_chunks_[chunk]) v6_chunks_[chunk] = std::make_unique_for_overwrite<V6Addrs[]>(kChunk);
  return v6_chunks_[chunk][i & (kChunk - 1)].data();
}

uint32_t PeerTable::newRecord() {
  if (!free_.empty()) {
    const uint32_t i = free_.back();
    free_.pop_back();
    return i;
  }
  const uint32_t i = high_water_++;
  if ((i >> kChunkShift) >= chunks_.size()) {
    chunks_.push_back(std::make_unique_for_overwrite<Record[]>(kChunk));
  }
  return i;
}

size_t PeerTable::home(uint32_t tag) const {
  return static_cast<size_t>((uint64_t{tag} * kGolden) >> shift_);
}

size_t PeerTable::slotOf(const SessionKey& key, uint32_t tag) const {
  if (slots_.empty()) return kNpos;
  for (size_t pos = home(tag);; pos = (pos + 1) & mask_) {
    const uint64_t v = slots_[pos];
    if (v == 0) return kNpos;
    if (static_cast<uint32_t>(v >> 32) == tag &&
        keyAt(static_cast<uint32_t>(v) - 1) == key) {
      return pos;
    }
  }
}

void PeerTable::place(uint64_t slot_value) {
  size_t pos = home(static_cast<uint32_t>(slot_value >> 32));
  while (slots_[pos] != 0) pos = (pos + 1) & mask_;
  slots_[pos] = slot_value;
}

void PeerTable::grow(size_t min_slots) {
  const size_t n = std::bit_ceil(std::max(min_slots, kMinSlots));
  if (n <= slots_.size()) return;
  std::vector<uint64_t> old = std::exchange(slots_, std::vector<uint64_t>(n, 0));
  mask_ = n - 1;
  shift_ = 64 - static_cast<unsigned>(std::countr_zero(n));
  for (const uint64_t v : old) {
    if (v != 0) place(v);
  }
}

void PeerTable::reserve(size_t n) { grow(n / 7 * 10 + 1); }

void PeerTable::clear() {
  chunks_.clear();
  high_water_ = 0;
  free_.clear();
  std::vector<uint64_t>().swap(slots_);
  mask_ = 0;
  shift_ = 64;
  size_ = 0;
  fulls_.clear();
  free_fulls_.clear();
  v6_chunks_.clear();
}

uint32_t PeerTable::nextLive(uint32_t i) const {
  while (i < high_water_ && !live(i)) ++i;
  return i;
}

PeerTable::const_iterator PeerTable::begin() const { return const_iterator(this, nextLive(0)); }

PeerTable::const_iterator PeerTable::find(const SessionKey& key) const {
  const size_t slot = slotOf(key, tagOf(key));
  if (slot == kNpos) return end();
  return const_iterator(this, static_cast<uint32_t>(slots_[slot]) - 1);
}

PeerEntry PeerTable::at(const SessionKey& key) const {
  const const_iterator it = find(key);
  if (it == end()) throw std::out_of_range("PeerTable::at: no such session");
  return decode(it.record_);
}

std::pair<PeerTable::const_iterator, bool> PeerTable::tryInsert(const Session& s,
                                                                uint64_t generation,
                                                                Millis received_at) {
  const SessionKey key = keyOf(s);
  const uint32_t tag = tagOf(key);
  if (const size_t slot = slotOf(key, tag); slot != kNpos) {
    return {const_iterator(this, static_cast<uint32_t>(slots_[slot]) - 1), false};
  }
  // Load at most 0.7: linear probing stays short (a miss probes ~6 slots on average).
  if ((size_ + 1) * 10 > slots_.size() * 7) grow(slots_.size() * 2);
  const uint32_t i = newRecord();
  record(i).flags = 0;
  encode(s, generation, received_at, i);
  place(uint64_t{tag} << 32 | (uint64_t{i} + 1));
  ++size_;
  return {const_iterator(this, i), true};
}

void PeerTable::replace(const_iterator it, const Session& s, uint64_t generation,
                        Millis received_at) {
  encode(s, generation, received_at, it.record_);
}

void PeerTable::setGeneration(const_iterator it, uint64_t generation) {
  record(it.record_).generation = static_cast<uint32_t>(generation);
}

void PeerTable::resetGenerations() {
  for (uint32_t i = 0; i < high_water_; ++i) record(i).generation = 0;
}

size_t PeerTable::erase(const SessionKey& key) {
  const size_t slot = slotOf(key, tagOf(key));
  if (slot == kNpos) return 0;
  const uint32_t i = static_cast<uint32_t>(slots_[slot]) - 1;
  eraseSlot(slot);
  releaseFull(i);
  record(i).flags = 0;
  free_.push_back(i);
  --size_;
  return 1;
}

void PeerTable::eraseRecord(uint32_t i) {
  const SessionKey key = keyAt(i);
  eraseSlot(slotOf(key, tagOf(key)));
  releaseFull(i);
  record(i).flags = 0;
  free_.push_back(i);
  --size_;
}

void PeerTable::eraseSlot(size_t slot) {
  // Backward shift: later entries of the probe run move up, so no tombstones are needed.
  size_t i = slot;
  slots_[i] = 0;
  for (size_t j = (i + 1) & mask_; slots_[j] != 0; j = (j + 1) & mask_) {
    const size_t h = home(static_cast<uint32_t>(slots_[j] >> 32));
    // The entry at j may stay when its home lies cyclically in (i, j].
    const bool stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
    if (stays) continue;
    slots_[i] = slots_[j];
    slots_[j] = 0;
    i = j;
  }
}

size_t PeerTable::bytesUsed() const {
  size_t n = chunks_.size() * kChunk * sizeof(Record) + slots_.capacity() * sizeof(uint64_t) +
             free_.capacity() * sizeof(uint32_t) + fulls_.capacity() * sizeof(void*) +
             free_fulls_.capacity() * sizeof(uint32_t);
  for (const auto& c : v6_chunks_) {
    if (c) n += kChunk * sizeof(V6Addrs);
  }
  for (const auto& f : fulls_) {
    if (f) n += sizeof(Session) + f->helper.capacity();
  }
  return n;
}

PeerTable::const_iterator::value_type PeerTable::const_iterator::operator*() const {
  return {table_->keyAt(record_), table_->decode(record_)};
}

PeerTable::const_iterator& PeerTable::const_iterator::operator++() {
  record_ = table_->nextLive(record_ + 1);
  return *this;
}

SessionKey PeerTable::const_iterator::key() const { return table_->keyAt(record_); }

IpAddress PeerTable::const_iterator::origSource() const { return table_->addressAt(record_, 0); }

IpAddress PeerTable::const_iterator::replySource() const { return table_->addressAt(record_, 2); }

uint32_t PeerTable::const_iterator::owner() const {
  const Record& r = table_->record(record_);
  return (r.flags & kFull) != 0 ? table_->fulls_[r.addr[0]]->owner : r.owner;
}

uint64_t PeerTable::const_iterator::version() const {
  const Record& r = table_->record(record_);
  return (r.flags & kFull) != 0 ? table_->fulls_[r.addr[0]]->version : r.version;
}

uint32_t PeerTable::const_iterator::generation() const {
  return table_->record(record_).generation;
}

}  // namespace gwsync::syncd
