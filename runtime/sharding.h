// Torch-free arithmetic used by the strategies: FSDP shard layout, DDP gradient bucket
// planning and the distributed sampler's indices.
//
// Pure functions; thread-safe.
#ifndef FABRIC_RUNTIME_SHARDING_H_
#define FABRIC_RUNTIME_SHARDING_H_

#include <cstdint>
#include <vector>

namespace fabric::runtime {

// A flat buffer of `total` elements split evenly over `world` ranks; the buffer is
// padded with zeros to `padded` = world * shard_size.
struct ShardLayout {
  int64_t total = 0;
  int64_t padded = 0;
  int64_t shard_size = 0;
  int world = 1;

  int64_t Begin(int rank) const { return rank * shard_size; }
  // Elements of rank's shard that hold real (non-padding) values.
  int64_t ValidCount(int rank) const;
};

// REQUIRES: total >= 0, world >= 1.
ShardLayout MakeShardLayout(int64_t total, int world);

// Groups parameters into buckets of at most `cap_bytes` (a parameter larger than the
// cap gets a bucket of its own). Parameters are visited in reverse order, as their
// gradients become ready in backward. Returns indices into `param_bytes`.
std::vector<std::vector<int>> PlanBuckets(const std::vector<int64_t>& param_bytes,
                                          int64_t cap_bytes);

// The indices of a dataset of `size` samples that rank `rank` of `world` visits in
// `epoch`: PyTorch's DistributedSampler rule (optionally shuffled by seed + epoch; padded
// by repeating the first indices so that every rank gets ceil(size / world) samples, or
// truncated to floor(size / world) with drop_last).
std::vector<int64_t> DistributedSamplerIndices(int64_t size, int world, int rank, int64_t epoch,
                                               uint64_t seed, bool shuffle, bool drop_last);

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_SHARDING_H_
