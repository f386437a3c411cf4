// FSDP's options (strategy.h's FSDP): the one struct a program sets in
// FabricOptions::fsdp, that ResolveConfig carries into RuntimeConfig::fsdp and the
// Fabric hands to MakeFsdpStrategy. Torch-free.
#ifndef FABRIC_RUNTIME_FSDP_OPTIONS_H_
#define FABRIC_RUNTIME_FSDP_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace fabric::runtime {

struct FsdpOptions {
  // The auto-wrap policy (which submodules are sharded units of their own): submodules
  // whose type name (Module::name(), e.g. "torch::nn::TransformerEncoderLayerImpl")
  // contains one of these, or holding at least `unit_min_params` trainable parameters
  // (0: off). Neither: the whole module is one unit.
  std::vector<std::string> unit_types;
  int64_t unit_min_params = 0;
  // Activation checkpointing (Lightning's activation_checkpointing_policy): units whose
  // type name contains one of these, when run through RunUnit (fsdp_unit.h), keep no
  // activations from forward and recompute them in backward.
  std::vector<std::string> checkpoint_types;
  // The model runs the forward of every unit but the root through RunUnit: none is
  // gathered before the forward pass, from the first step on (otherwise a unit counts as
  // just-in-time once RunUnit has seen it). A unit used outside RunUnit then has empty
  // parameters and its forward fails.
  bool just_in_time = false;
  // CPU offload (Lightning's cpu_offload=True; strategy "fsdp_cpu_offload" sets it too):
  // on a GPU each rank's shards, their gradients and so the optimizer state live in
  // (pinned) host memory and the optimizer steps on the CPU; a unit's shard is copied to
  // the device for its all-gather and its reduce-scattered gradient back. No effect on
  // the CPU.
  bool cpu_offload = false;
  // Lightning's FSDP mixed-precision policy for bf16-mixed (ResolveConfig sets it then): a
  // float32 unit is gathered, computed with and reduce-scattered in bfloat16 (half the
  // bytes of float32, and no bf16 copy of the weights kept by autocast); its shard, the
  // gradient the optimizer sees and the optimizer state stay float32. Other dtypes
  // (float64 units) are untouched.
  bool bf16_gather = false;
};

}  // namespace fabric::runtime

#endif  // FABRIC_RUNTIME_FSDP_OPTIONS_H_
