// SessionTable: the sessions one gateway knows, keyed by (zone, original tuple).
// Owns its sessions; single-threaded (the daemon's event loop); pure, no I/O.
#pragma once

#include <cstddef>
#include <functional>
#include <unordered_map>

#include "syncd/core/session.h"

namespace gwsync::syncd {

enum class UpsertOutcome { kInserted, kUpdated, kUnchanged };

class SessionTable {
 public:
  UpsertOutcome upsert(const Session& s);
  // Returns true when an entry was removed.
  bool erase(const SessionKey& key);
  const Session* find(const SessionKey& key) const;
  size_t size() const { return sessions_.size(); }
  bool empty() const { return sessions_.empty(); }
  void clear() { sessions_.clear(); }

  void forEach(const std::function<void(const Session&)>& fn) const;

  bool operator==(const SessionTable& other) const { return sessions_ == other.sessions_; }

 private:
  std::unordered_map<SessionKey, Session, SessionKeyHash> sessions_;
};

}  // namespace gwsync::syncd
