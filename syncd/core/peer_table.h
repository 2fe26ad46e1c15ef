// PeerTable: the peer's sessions as we last heard them, keyed by (zone, original tuple), in a
// compact form. A cold standby holds every session of its peer in memory, so this is where
// gwsync's memory per session goes (issue 9: at most 150 B; a std::unordered_map node of a full
// Session was a 304 B allocation).
//
// Layout: records of 72 B in chunks (no allocation per session), and an open-addressing index
// of 8 B slots (a 32-bit hash tag and the record's number) with linear probing and
// backward-shift deletion. The common case, an IPv4 or IPv6 session without labels, helper, SCTP
// or sequence adjustment, fits a record (IPv6 addresses in a parallel chunk of 64 bytes per
// record, allocated for a chunk when its first IPv6 session arrives); any other session keeps a
// full Session on the heap (the record then holds its number). Lookups and iteration give values decoded from the record, so
// callers read a PeerEntry but change the table only through its members. Pure,
// single-threaded.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

#include "syncd/core/session.h"

namespace gwsync::syncd {

using Millis = std::chrono::milliseconds;

struct PeerEntry {
  Session session;
  uint64_t generation = 0;  // the bulk that last mentioned it (kept modulo 2^32)
  Millis received_at{0};    // when its state arrived (its timeout counts from then)
};

class PeerTable {
 public:
  using value_type = std::pair<SessionKey, PeerEntry>;

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = PeerTable::value_type;
    using difference_type = std::ptrdiff_t;
    using reference = value_type;
    using pointer = void;
    struct Arrow {
      value_type v;
      const value_type* operator->() const { return &v; }
    };

    const_iterator() = default;
    value_type operator*() const;
    Arrow operator->() const { return Arrow{**this}; }
    const_iterator& operator++();
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++*this;
      return old;
    }
    bool operator==(const const_iterator& o) const { return record_ == o.record_; }

    // Cheap reads of one field, without decoding the whole session.
    SessionKey key() const;
    IpAddress origSource() const;
    IpAddress replySource() const;
    uint32_t owner() const;
    uint64_t version() const;
    uint32_t generation() const;  // modulo 2^32

   private:
    friend class PeerTable;
    const_iterator(const PeerTable* t, uint32_t record) : table_(t), record_(record) {}
    const PeerTable* table_ = nullptr;
    uint32_t record_ = 0;
  };
  using iterator = const_iterator;

  PeerTable();
  PeerTable(PeerTable&&) noexcept;
  PeerTable& operator=(PeerTable&&) noexcept;
  PeerTable(const PeerTable&) = delete;
  PeerTable& operator=(const PeerTable&) = delete;
  ~PeerTable();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear();
  // Sizes the index for n sessions (records are allocated as they come).
  void reserve(size_t n);

  const_iterator begin() const;
  const_iterator end() const { return const_iterator(this, high_water_); }
  const_iterator find(const SessionKey& key) const;
  size_t count(const SessionKey& key) const { return find(key) == end() ? 0 : 1; }
  bool contains(const SessionKey& key) const { return count(key) != 0; }
  // Throws std::out_of_range when the key is not held.
  PeerEntry at(const SessionKey& key) const;

  // Inserts the session (key: its zone and original tuple) unless the key is held; returns where
  // it is and whether it was inserted. An existing entry is left as it was.
  std::pair<const_iterator, bool> tryInsert(const Session& s, uint64_t generation,
                                            Millis received_at);
  // Replaces the entry at `it` with a session of the same key.
  void replace(const_iterator it, const Session& s, uint64_t generation, Millis received_at);
  void setGeneration(const_iterator it, uint64_t generation);
  // Every entry's generation to 0.
  void resetGenerations();
  size_t erase(const SessionKey& key);
  // Removes the entries for which pred(const_iterator) is true; returns how many.
  template <typename Pred>
  size_t eraseIf(Pred pred) {
    size_t n = 0;
    for (const_iterator it = begin(); it != end(); ++it) {
      if (pred(it)) {
        eraseRecord(it.record_);
        ++n;
      }
    }
    return n;
  }

  // Bytes held by records, the index and heap sessions (for the memory benchmark and tests).
  size_t bytesUsed() const;
  // How many entries keep a full Session on the heap (not representable in a record).
  size_t fullEntries() const { return fulls_.size() - free_fulls_.size(); }

  struct Record;

 private:
  static constexpr uint32_t kChunkShift = 12;  // 4096 records (288 KiB) per chunk
  static constexpr uint32_t kChunk = 1u << kChunkShift;

  Record& record(uint32_t i);
  const Record& record(uint32_t i) const;
  bool live(uint32_t i) const;
  SessionKey keyAt(uint32_t i) const;
  // Address `which` of record i: 0 orig src, 1 orig dst, 2 reply src, 3 reply dst.
  IpAddress addressAt(uint32_t i, int which) const;
  PeerEntry decode(uint32_t i) const;
  // The four IPv6 addresses of record i (orig src, dst, reply src, dst), or null for IPv4.
  const uint8_t* v6Addrs(uint32_t i) const;
  uint8_t* v6Slot(uint32_t i);
  void encode(const Session& s, uint64_t generation, Millis received_at, uint32_t i);
  void releaseFull(uint32_t i);
  uint32_t newRecord();
  size_t home(uint32_t tag) const;
  // The index slot of the key, or npos.
  size_t slotOf(const SessionKey& key, uint32_t tag) const;
  void eraseRecord(uint32_t i);
  void eraseSlot(size_t slot);
  void place(uint64_t slot_value);
  void grow(size_t min_slots);
  uint32_t nextLive(uint32_t i) const;

  std::vector<std::unique_ptr<Record[]>> chunks_;
  uint32_t high_water_ = 0;     // records ever handed out: [0, high_water_)
  std::vector<uint32_t> free_;  // erased records, reused first
  std::vector<uint64_t> slots_;  // 0: empty; else tag << 32 | (record + 1)
  size_t mask_ = 0;
  unsigned shift_ = 64;  // home slot = (tag * golden) >> shift_
  size_t size_ = 0;
  using V6Addrs = std::array<uint8_t, 64>;
  std::vector<std::unique_ptr<V6Addrs[]>> v6_chunks_;  // parallel to chunks_, for IPv6 records
  std::vector<std::unique_ptr<Session>> fulls_;
  std::vector<uint32_t> free_fulls_;
};

}  // namespace gwsync::syncd
