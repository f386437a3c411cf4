// ReadNumaTopology and ResolveNumaBinding: the I/O half of numa_binding.h.
#include <dirent.h>
#include <sched.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "launcher/numa_binding.h"

namespace fabric::launcher {
namespace {

// Entries of `dir` named PREFIX<number>, as the numbers, sorted.
std::vector<int> Numbered(const std::string& dir, absl::string_view prefix) {
  std::vector<int> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    absl::string_view name(e->d_name);
    int n = 0;
    if (absl::ConsumePrefix(&name, prefix) && absl::SimpleAtoi(name, &n) && n >= 0) {
      out.push_back(n);
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') out.emplace_back(e->d_name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string Trimmed(const std::string& path) {
  return std::string(absl::StripAsciiWhitespace(ReadFile(path).value_or("")));
}

// The lowest CPU of a cpulist file; nullopt when unreadable or empty.
std::optional<int> LowestOf(const std::string& path) {
  std::optional<std::string> text = ReadFile(path);
  if (!text.has_value()) return std::nullopt;
  absl::StatusOr<std::vector<int>> cpus = ParseCpuList(*text);
  if (!cpus.ok() || cpus->empty()) return std::nullopt;
  return cpus->front();
}

// The lowest CPU sharing `cpu`'s largest data or unified cache (torch's "max level cache").
std::optional<int> ComplexOf(const std::string& cpu_dir) {
  int best_level = -1;
  std::optional<int> lowest;
  for (int i : Numbered(cpu_dir + "/cache", "index")) {
    const std::string dir = absl::StrCat(cpu_dir, "/cache/index", i);
    const std::string type = Trimmed(dir + "/type");
    int level = 0;
    if ((type != "Unified" && type != "Data") ||
        !absl::SimpleAtoi(Trimmed(dir + "/level"), &level) || level <= best_level) {
      continue;
    }
    best_level = level;
    lowest = LowestOf(dir + "/shared_cpu_list");
  }
  return lowest;
}

}  // namespace

absl::StatusOr<NumaTopology> ReadNumaTopology(const std::string& sysfs_root) {
  const std::string node_dir = sysfs_root + "/devices/system/node";
  struct stat st;
  if (stat(node_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat("this machine shows no NUMA information (",
                                                      node_dir,
                                                      " is missing); run without --numa-binding"));
  }
  NumaTopology t;
  for (int node : Numbered(node_dir, "node")) {
    std::optional<std::string> list = ReadFile(absl::StrCat(node_dir, "/node", node, "/cpulist"));
    if (!list.has_value()) continue;
    absl::StatusOr<std::vector<int>> cpus = ParseCpuList(*list);
    if (!cpus.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(node_dir, "/node", node, "/cpulist: ", cpus.status().message()));
    }
    if (cpus->empty()) continue;  // a memory-only node
    for (int cpu : *cpus) {
      const std::string cpu_dir = absl::StrCat(sysfs_root, "/devices/system/cpu/cpu", cpu);
      int socket = 0;
      if (absl::SimpleAtoi(Trimmed(cpu_dir + "/topology/physical_package_id"), &socket)) {
        t.cpu_socket[cpu] = socket;
      }
      if (std::optional<int> core = LowestOf(cpu_dir + "/topology/thread_siblings_list")) {
        t.cpu_core[cpu] = *core;
      }
      if (std::optional<int> complex = ComplexOf(cpu_dir)) t.cpu_complex[cpu] = *complex;
    }
    t.node_cpus[node] = *std::move(cpus);
  }
  const std::string pci = sysfs_root + "/bus/pci/devices";
  for (const std::string& bdf : Names(pci)) {  // "0000:17:00.0" sorts in bus order
    const std::string dev = pci + "/" + bdf;
    const std::string cls = Trimmed(dev + "/class");
    if (Trimmed(dev + "/vendor") != "0x10de" ||
        !(absl::StartsWith(cls, "0x0300") || absl::StartsWith(cls, "0x0302"))) {
      continue;
    }
    int node = 0;
    if (!absl::SimpleAtoi(Trimmed(dev + "/numa_node"), &node) || node < 0) node = 0;
    t.gpu_nodes.push_back(node);
  }
  return t;
}

absl::StatusOr<std::vector<CpuBinding>> ResolveNumaBinding(
    NumaMode mode, int local_world_size, const std::optional<std::vector<int>>& device_ids,
    const EnvMap& env) {
  const std::string prefix = absl::StrCat("--numa-binding ", NumaModeName(mode), ": ");
  auto root = env.find(kSysfsRootVar);
  absl::StatusOr<NumaTopology> t =
      ReadNumaTopology(root != env.end() && !root->second.empty() ? root->second : "/sys");
  if (!t.ok()) return absl::FailedPreconditionError(prefix + std::string(t.status().message()));
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) {
    return absl::FailedPreconditionError(prefix + "sched_getaffinity failed");
  }
  std::vector<int> allowed;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) allowed.push_back(c);
  }
  absl::StatusOr<std::vector<CpuBinding>> plan = PlanNumaBinding(
      mode, *t, allowed, RankGpus(local_world_size, device_ids, env), local_world_size);
  if (!plan.ok())
    return absl::FailedPreconditionError(prefix + std::string(plan.status().message()));
  return plan;
}

}  // namespace fabric::launcher
