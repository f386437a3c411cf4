#include "runtime/sharding.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace fabric::runtime {

int64_t ShardLayout::ValidCount(int rank) const {
  int64_t begin = Begin(rank);
  if (begin >= total) return 0;
  return std::min(shard_size, total - begin);
}

ShardLayout MakeShardLayout(int64_t total, int world) {
  ShardLayout l;
  l.total = total;
  l.world = world;
  l.shard_size = (total + world - 1) / world;
  l.padded = l.shard_size * world;
  return l;
}

std::vector<std::vector<int>> PlanBuckets(const std::vector<int64_t>& param_bytes,
                                          int64_t cap_bytes) {
  std::vector<std::vector<int>> buckets;
  std::vector<int> current;
  int64_t current_bytes = 0;
  for (int i = static_cast<int>(param_bytes.size()) - 1; i >= 0; --i) {
    if (!current.empty() && current_bytes + param_bytes[i] > cap_bytes) {
      buckets.push_back(std::move(current));
      current.clear();
      current_bytes = 0;
    }
    current.push_back(i);
    current_bytes += param_bytes[i];
  }
  if (!current.empty()) buckets.push_back(std::move(current));
  return buckets;
}

std::vector<int64_t> DistributedSamplerIndices(int64_t size, int world, int rank, int64_t epoch,
                                               uint64_t seed, bool shuffle, bool drop_last) {
  std::vector<int64_t> order(size);
  std::iota(order.begin(), order.end(), 0);
  if (shuffle) {
    std::mt19937_64 rng(seed + static_cast<uint64_t>(epoch));
    // Fisher-Yates with our own draw so that the order is the same on every platform.
    for (int64_t i = size - 1; i > 0; --i) {
      int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
      std::swap(order[i], order[j]);
    }
  }
  int64_t per_rank = drop_last ? size / world : (size + world - 1) / world;
  int64_t total = per_rank * world;
  if (total > size) {
    // Pad by repeating from the start (cyclically when size is tiny).
    for (int64_t i = size; i < total && size > 0; ++i) order.push_back(order[i % size]);
  } else {
    order.resize(total);
  }
  std::vector<int64_t> mine;
  mine.reserve(per_rank);
  for (int64_t i = rank; i < total; i += world) mine.push_back(order[i]);
  return mine;
}

}  // namespace fabric::runtime
