#include "syncd/core/session_table.h"

namespace gwsync::syncd {

UpsertOutcome SessionTable::upsert(const Session& s) {
  auto [it, inserted] = sessions_.try_emplace(keyOf(s), s);
  if (inserted) return UpsertOutcome::kInserted;
  if (it->second == s) return UpsertOutcome::kUnchanged;
  it->second = s;
  return UpsertOutcome::kUpdated;
}

bool SessionTable::erase(const SessionKey& key) { return sessions_.erase(key) > 0; }

const Session* SessionTable::find(const SessionKey& key) const {
  auto it = sessions_.find(key);
  return it == sessions_.end() ? nullptr : &it->second;
}

void SessionTable::forEach(const std::function<void(const Session&)>& fn) const {
  for (const auto& [key, session] : sessions_) fn(session);
}

}  // namespace gwsync::syncd
