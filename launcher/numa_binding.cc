// PlanNumaBinding and its helpers: pure (the sysfs reading is numa_sysfs.cc).
#include "launcher/numa_binding.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace fabric::launcher {
namespace {

// CPU -> its group's key (cpu_core, cpu_complex), or the CPU itself when unknown.
int KeyOf(const std::map<int, int>& keys, int cpu) {
  auto it = keys.find(cpu);
  return it == keys.end() ? cpu : it->second;
}

// The node's CPUs that the agent may use.
std::vector<int> AllowedOn(const NumaTopology& t, int node, const std::set<int>& allowed) {
  std::vector<int> out;
  auto it = t.node_cpus.find(node);
  if (it == t.node_cpus.end()) return out;
  for (int cpu : it->second) {
    if (allowed.count(cpu) != 0) out.push_back(cpu);
  }
  return out;
}

// `cpus` grouped by key, in key order.
std::vector<std::vector<int>> GroupBy(const std::vector<int>& cpus,
                                      const std::map<int, int>& keys) {
  std::map<int, std::vector<int>> groups;
  for (int cpu : cpus) groups[KeyOf(keys, cpu)].push_back(cpu);
  std::vector<std::vector<int>> out;
  for (auto& [key, g] : groups) out.push_back(std::move(g));
  return out;
}

std::vector<int> Flatten(const std::vector<std::vector<int>>& groups, size_t begin, size_t end) {
  std::vector<int> out;
  for (size_t i = begin; i < end; ++i) out.insert(out.end(), groups[i].begin(), groups[i].end());
  std::sort(out.begin(), out.end());
  return out;
}

// torch's _exclusive_get_logical_cpus_to_bind_to: `peer` of `peers` gets an even share of
// the node's physical cores, the lower peers one more when it does not divide.
absl::StatusOr<std::vector<int>> Exclusive(const std::vector<int>& cpus, const NumaTopology& t,
                                           int node, size_t peer, size_t peers) {
  const std::vector<std::vector<int>> cores = GroupBy(cpus, t.cpu_core);
  const size_t per = cores.size() / peers;
  const size_t extra = cores.size() % peers;
  if (per < 1) {
    return absl::FailedPreconditionError(absl::StrCat("NUMA node ", node, " has ", cores.size(),
                                                      " physical core(s) for ", peers,
                                                      " ranks; use --numa-binding node"));
  }
  const size_t begin = peer * per + std::min(peer, extra);
  return Flatten(cores, begin, begin + per + (peer < extra ? 1 : 0));
}

// torch's _core_complex_get_logical_cpus_to_bind_to: the node's last-level-cache groups,
// the largest first (then the lowest CPU), one per peer round-robin.
std::vector<int> CoreComplex(const std::vector<int>& cpus, const NumaTopology& t, size_t peer) {
  std::vector<std::vector<int>> groups = GroupBy(cpus, t.cpu_complex);
  std::stable_sort(groups.begin(), groups.end(),
                   [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return Flatten(groups, peer % groups.size(), peer % groups.size() + 1);
}

std::vector<int> Socket(const NumaTopology& t, int node, const std::set<int>& allowed) {
  const std::vector<int> own = AllowedOn(t, node, allowed);
  const int socket = t.cpu_socket.count(own.front()) ? t.cpu_socket.at(own.front()) : -1;
  std::vector<int> out;
  for (const auto& [n, unused] : t.node_cpus) {
    const std::vector<int> cpus = AllowedOn(t, n, allowed);
    if (cpus.empty()) continue;
    const bool same = n == node || (socket >= 0 && t.cpu_socket.count(cpus.front()) &&
                                    t.cpu_socket.at(cpus.front()) == socket);
    if (same) out.insert(out.end(), cpus.begin(), cpus.end());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

absl::StatusOr<NumaMode> ParseNumaMode(absl::string_view value) {
  for (NumaMode m :
       {NumaMode::kNode, NumaMode::kSocket, NumaMode::kExclusive, NumaMode::kCoreComplex}) {
    if (value == NumaModeName(m)) return m;
  }
  return absl::InvalidArgumentError(absl::StrCat("--numa-binding '", value,
                                                 "': not a mode; use node, socket, exclusive "
                                                 "or core-complex"));
}

const char* NumaModeName(NumaMode mode) {
  switch (mode) {
    case NumaMode::kNode: return "node";
    case NumaMode::kSocket: return "socket";
    case NumaMode::kExclusive: return "exclusive";
    case NumaMode::kCoreComplex: return "core-complex";
  }
  return "?";
}

absl::StatusOr<std::vector<int>> ParseCpuList(absl::string_view text) {
  std::set<int> cpus;
  for (absl::string_view part : absl::StrSplit(absl::StripAsciiWhitespace(text), ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) continue;
    std::pair<absl::string_view, absl::string_view> range = absl::StrSplit(part, '-');
    int lo = 0, hi = 0;
    if (!absl::SimpleAtoi(range.first, &lo) ||
        !absl::SimpleAtoi(range.second.empty() ? range.first : range.second, &hi) || lo < 0 ||
        hi < lo || hi - lo > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("bad CPU list '", text, "'"));
    }
    for (int c = lo; c <= hi; ++c) cpus.insert(c);
  }
  return std::vector<int>(cpus.begin(), cpus.end());
}

std::string FormatCpuList(const std::vector<int>& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    absl::StrAppend(&out, out.empty() ? "" : ",", cpus[i]);
    if (j > i) absl::StrAppend(&out, "-", cpus[j]);
    i = j + 1;
  }
  return out;
}

absl::StatusOr<std::vector<CpuBinding>> PlanNumaBinding(NumaMode mode, const NumaTopology& topology,
                                                        const std::vector<int>& allowed_cpus,
                                                        const std::vector<int>& rank_gpus,
                                                        int local_world_size) {
  const std::set<int> allowed(allowed_cpus.begin(), allowed_cpus.end());
  std::vector<int> usable_nodes;  // nodes with CPUs the agent may use
  for (const auto& [node, unused] : topology.node_cpus) {
    if (!AllowedOn(topology, node, allowed).empty()) usable_nodes.push_back(node);
  }
  if (usable_nodes.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no NUMA node has a CPU this process may run on (allowed: ", FormatCpuList(allowed_cpus),
        ")"));
  }
  // Each rank's node, and its index among the node's "GPUs" (peer) and their count.
  const bool gpus = !topology.gpu_nodes.empty();
  std::vector<int> node_of(local_world_size);
  std::vector<int> me_of(local_world_size);  // the rank's GPU, or the rank (no GPU)
  std::map<int, std::vector<int>> peers;     // node -> its GPUs (or ranks), ascending
  if (gpus) {
    for (size_t g = 0; g < topology.gpu_nodes.size(); ++g) {
      peers[topology.gpu_nodes[g]].push_back(static_cast<int>(g));
    }
  }
  for (int r = 0; r < local_world_size; ++r) {
    if (!gpus) {
      node_of[r] = usable_nodes[r % usable_nodes.size()];
      me_of[r] = r;
      peers[node_of[r]].push_back(r);
      continue;
    }
    const int g = r < static_cast<int>(rank_gpus.size()) ? rank_gpus[r] : r;
    if (g < 0 || g >= static_cast<int>(topology.gpu_nodes.size())) {
      return absl::FailedPreconditionError(
          absl::StrCat("local rank ", r, " would use GPU ", g, ", but this machine has ",
                       topology.gpu_nodes.size(), " NVIDIA GPU(s)"));
    }
    node_of[r] = topology.gpu_nodes[g];
    me_of[r] = g;
  }
  std::vector<CpuBinding> out;
  for (int r = 0; r < local_world_size; ++r) {
    const int node = node_of[r];
    const std::vector<int>& p = peers[node];
    const size_t peer = std::find(p.begin(), p.end(), me_of[r]) - p.begin();
    const std::vector<int> cpus = AllowedOn(topology, node, allowed);
    if (cpus.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("local rank ", r, "'s NUMA node ", node,
                                                        " has no CPU this process may run on"));
    }
    CpuBinding b;
    b.numa_node = node;
    switch (mode) {
      case NumaMode::kNode: b.cpus = cpus; break;
      case NumaMode::kSocket:
        b.cpus = Socket(topology, node, allowed);
        if (b.cpus != cpus) b.numa_node = -1;  // several nodes: the kernel's local policy
        break;
      case NumaMode::kExclusive: {
        absl::StatusOr<std::vector<int>> e = Exclusive(cpus, topology, node, peer, p.size());
        if (!e.ok()) return e.status();
        b.cpus = *std::move(e);
        break;
      }
      case NumaMode::kCoreComplex: b.cpus = CoreComplex(cpus, topology, peer); break;
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<int> RankGpus(int local_world_size, const std::optional<std::vector<int>>& device_ids,
                          const EnvMap& env) {
  std::vector<int> visible;
  if (device_ids.has_value()) {
    visible = *device_ids;
  } else if (auto it = env.find("CUDA_VISIBLE_DEVICES"); it != env.end()) {
    for (absl::string_view id : absl::StrSplit(it->second, ',')) {
      int g = 0;
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(id), &g) || g < 0) break;  // as CUDA does
      visible.push_back(g);
    }
  }
  std::vector<int> out;
  for (int r = 0; r < local_world_size; ++r) {
    out.push_back(r < static_cast<int>(visible.size()) ? visible[r] : r);
  }
  return out;
}

}  // namespace fabric::launcher
