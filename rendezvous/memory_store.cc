#include "rendezvous/memory_store.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fabric {
namespace rendezvous {

std::string DescribeMissingKeys(absl::Duration waited, size_t total,
                                const std::vector<std::string>& missing) {
  return absl::StrCat("waited ", absl::FormatDuration(waited), " for ", total,
                      " key(s): ", total - missing.size(), " present; missing: ",
                      absl::StrJoin(missing, ", "));
}

std::vector<std::string> InMemoryStore::MissingLocked(
    const std::vector<std::string>& keys) const {
  std::vector<std::string> missing;
  for (const std::string& k : keys) {
    if (!data_.contains(k)) missing.push_back(k);
  }
  return missing;
}

void InMemoryStore::CollectLocked(const std::string& key, Fired* fired) {
  auto range = watch_by_key_.equal_range(key);
  std::vector<int64_t> ids;
  for (auto it = range.first; it != range.second; ++it) ids.push_back(it->second);
  watch_by_key_.erase(range.first, range.second);
  for (int64_t id : ids) {
    auto wit = watches_.find(id);
    if (wit == watches_.end()) continue;
    std::vector<std::string> missing = MissingLocked(wit->second.keys);
    if (!missing.empty()) {
      watch_by_key_.emplace(missing.front(), id);  // re-index on the next missing key
      continue;
    }
    std::vector<std::string> values;
    for (const std::string& k : wit->second.keys) values.push_back(data_.at(k));
    fired->emplace_back(std::move(wit->second.done), std::move(values));
    watches_.erase(wit);
  }
}

void InMemoryStore::Run(Fired* fired) {
  for (auto& [cb, result] : *fired) cb(std::move(result));
}

absl::Status InMemoryStore::Set(const std::string& key, const std::string& value) {
  Fired fired;
  {
    absl::MutexLock lock(&mu_);
    data_[key] = value;
    CollectLocked(key, &fired);
  }
  Run(&fired);
  return absl::OkStatus();
}

absl::StatusOr<std::string> InMemoryStore::Get(const std::string& key, absl::Time deadline) {
  const absl::Time start = absl::Now();
  absl::MutexLock lock(&mu_);
  auto present = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return data_.contains(key); };
  mu_.AwaitWithDeadline(absl::Condition(&present), deadline);
  auto it = data_.find(key);
  if (it == data_.end()) {
    return absl::DeadlineExceededError(
        absl::StrCat("store get: ", DescribeMissingKeys(absl::Now() - start, 1, {key})));
  }
  return it->second;
}

absl::StatusOr<int64_t> InMemoryStore::Add(const std::string& key, int64_t delta) {
  Fired fired;
  int64_t result = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = data_.find(key);
    int64_t current = 0;
    if (it != data_.end() && !absl::SimpleAtoi(it->second, &current)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "store add: key '", key, "' holds a non-integer value of ", it->second.size(),
          " bytes"));
    }
    result = current + delta;
    data_[key] = absl::StrCat(result);
    CollectLocked(key, &fired);
  }
  Run(&fired);
  return result;
}

absl::StatusOr<std::string> InMemoryStore::CompareSet(const std::string& key,
                                                      const std::string& expected,
                                                      const std::string& desired) {
  Fired fired;
  std::string result;
  {
    absl::MutexLock lock(&mu_);
    auto it = data_.find(key);
    const bool match = it == data_.end() ? expected.empty() : it->second == expected;
    if (!match) return it == data_.end() ? std::string() : it->second;
    data_[key] = desired;
    result = desired;
    CollectLocked(key, &fired);
  }
  Run(&fired);
  return result;
}

absl::Status InMemoryStore::Wait(const std::vector<std::string>& keys, absl::Time deadline) {
  const absl::Time start = absl::Now();
  absl::MutexLock lock(&mu_);
  auto all = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return MissingLocked(keys).empty(); };
  mu_.AwaitWithDeadline(absl::Condition(&all), deadline);
  std::vector<std::string> missing = MissingLocked(keys);
  if (!missing.empty()) {
    return absl::DeadlineExceededError(absl::StrCat(
        "store wait: ", DescribeMissingKeys(absl::Now() - start, keys.size(), missing)));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> InMemoryStore::Delete(const std::string& key) {
  absl::MutexLock lock(&mu_);
  return data_.erase(key) > 0;
}

void InMemoryStore::WatchAsync(std::vector<std::string> keys, absl::Time started,
                               absl::Time deadline, WatchCallback done) {
  std::vector<std::string> values;
  {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> missing = MissingLocked(keys);
    if (!missing.empty()) {
      const int64_t id = next_watch_++;
      watch_by_key_.emplace(missing.front(), id);
      watches_[id] = Watch{std::move(keys), started, deadline, std::move(done)};
      return;
    }
    for (const std::string& k : keys) values.push_back(data_.at(k));
  }
  done(std::move(values));
}

void InMemoryStore::ExpireWatches(absl::Time now) {
  Fired fired;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = watches_.begin(); it != watches_.end();) {
      if (it->second.deadline > now) {
        ++it;
        continue;
      }
      std::vector<std::string> missing = MissingLocked(it->second.keys);
      fired.emplace_back(std::move(it->second.done),
                         absl::DeadlineExceededError(absl::StrCat(
                             "store wait: ", DescribeMissingKeys(now - it->second.started,
                                                                 it->second.keys.size(),
                                                                 missing))));
      for (auto kit = watch_by_key_.begin(); kit != watch_by_key_.end();) {
        kit = kit->second == it->first ? watch_by_key_.erase(kit) : std::next(kit);
      }
      it = watches_.erase(it);
    }
  }
  Run(&fired);
}

size_t InMemoryStore::NumKeys() {
  absl::MutexLock lock(&mu_);
  return data_.size();
}

}  // namespace rendezvous
}  // namespace fabric
