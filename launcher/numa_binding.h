// NUMA binding (--numa-binding, torchrun 2.11's modes): which CPUs (and which NUMA node's
// memory) each local rank is bound to before its program is exec'd.
//
//   ReadNumaTopology   I/O: a sysfs tree -> NumaTopology (numa_sysfs.cc)
//   PlanNumaBinding    pure: topology + allowed CPUs + the ranks' GPUs -> one CpuBinding
//                      per local rank (numa_binding.cc)
//   ResolveNumaBinding both, for the agent: reads the tree under the sysfs root and the
//                      agent's own affinity, and plans.
//
// The modes follow torch/numa/binding.py (torch 2.11), for the GPU whose index is the
// rank's (local rank r -> GPU r, or the r-th of --devices' list or CUDA_VISIBLE_DEVICES):
//   node          every allowed CPU of the GPU's NUMA node;
//   socket        every allowed CPU of every node on that node's socket;
//   exclusive     the node's physical cores split evenly among the node's GPUs (lower
//                 GPUs get one more when it does not divide), all hyperthreads of each core;
//   core-complex  one last-level-cache group of the node per GPU (the largest groups
//                 first, round-robin when the node has more GPUs than groups).
// With no NVIDIA GPU, local rank r goes to the r-th NUMA node with allowed CPUs
// (round-robin) and the "GPUs of a node" above are the ranks placed on it.
//
// Thread safety: reentrant (no shared state).
#ifndef FABRIC_LAUNCHER_NUMA_BINDING_H_
#define FABRIC_LAUNCHER_NUMA_BINDING_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/worker_env.h"

namespace fabric::launcher {

enum class NumaMode { kNode, kSocket, kExclusive, kCoreComplex };

// "node", "socket", "exclusive", "core-complex". InvalidArgument for anything else,
// naming the value and the accepted ones.
absl::StatusOr<NumaMode> ParseNumaMode(absl::string_view value);
const char* NumaModeName(NumaMode mode);

// A sysfs cpulist ("0-3,8,10-11\n") -> sorted CPUs. InvalidArgument when malformed.
absl::StatusOr<std::vector<int>> ParseCpuList(absl::string_view text);
// Sorted CPUs -> "0-3,8" (empty: "").
std::string FormatCpuList(const std::vector<int>& cpus);

// What the planner needs of the machine. CPUs missing from cpu_core / cpu_complex /
// cpu_socket count as a core, a complex, a socket of their own (no topology file).
struct NumaTopology {
  std::map<int, std::vector<int>> node_cpus;  // NUMA node -> its CPUs (node<N>/cpulist)
  std::map<int, int> cpu_socket;              // CPU -> topology/physical_package_id
  std::map<int, int> cpu_core;                // CPU -> lowest CPU of its thread_siblings_list
  std::map<int, int> cpu_complex;             // CPU -> lowest CPU sharing its last-level cache
  std::vector<int> gpu_nodes;                 // NVIDIA GPU (PCI bus order) -> its NUMA node
};

struct CpuBinding {
  std::vector<int> cpus;  // sorted, never empty
  int numa_node = -1;     // the node whose memory the rank prefers; -1: several (socket)
};

// One binding per local rank. `allowed_cpus`: the agent's own affinity (bindings never
// leave it). `rank_gpus`: each local rank's GPU index into topology.gpu_nodes (ignored
// when the topology has no GPU). FailedPrecondition, naming the rank and what is missing,
// when the topology has no NUMA node, a rank's GPU does not exist, or a rank's set would
// be empty (exclusive: fewer cores than GPUs on the node).
absl::StatusOr<std::vector<CpuBinding>> PlanNumaBinding(NumaMode mode, const NumaTopology& topology,
                                                        const std::vector<int>& allowed_cpus,
                                                        const std::vector<int>& rank_gpus,
                                                        int local_world_size);

// Reads the topology under `sysfs_root` ("/sys"): devices/system/node/node<N>/cpulist,
// devices/system/cpu/cpu<N>/{topology,cache}, bus/pci/devices/<bdf>/{vendor,class,
// numa_node} of NVIDIA display/3D controllers (vendor 0x10de, class 0x0300xx or 0x0302xx),
// sorted by bus address (CUDA_DEVICE_ORDER=PCI_BUS_ID, nvidia-smi's order; a numa_node of
// -1 counts as node 0, as torch does). FailedPrecondition when devices/system/node is
// missing (a machine, or container, that shows no NUMA information).
absl::StatusOr<NumaTopology> ReadNumaTopology(const std::string& sysfs_root);

// Each local rank's GPU index: --devices' list when given, else CUDA_VISIBLE_DEVICES'
// numeric ids when set in `env`, else the local rank itself. Pure.
std::vector<int> RankGpus(int local_world_size, const std::optional<std::vector<int>>& device_ids,
                          const EnvMap& env);

// The test seam: env[kSysfsRootVar] replaces "/sys" (a fake tree in tests).
inline constexpr char kSysfsRootVar[] = "FABRIC_SYSFS_ROOT";

// The agent's entry: reads the topology (the sysfs root from `env`) and this process's
// affinity, and plans. Errors (FailedPrecondition, one line) start with "--numa-binding
// MODE: ".
absl::StatusOr<std::vector<CpuBinding>> ResolveNumaBinding(
    NumaMode mode, int local_world_size, const std::optional<std::vector<int>>& device_ids,
    const EnvMap& env);

}  // namespace fabric::launcher

#endif  // FABRIC_LAUNCHER_NUMA_BINDING_H_
