// Integration: the real fabric-run with --numa-binding over a fake sysfs tree (the
// FABRIC_SYSFS_ROOT test seam, launcher/numa_binding.h). Each worker prints the affinity
// the kernel gave it (/proc/self/status), so the binding checked is the real one, set in
// the child before its exec. This machine may have only CPUs 0 and 1: the fake nodes are
// node0 = CPU 0 and node1 = CPU 1.
#include <sched.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fabric_run_harness.h"

namespace fabric::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The worker: its allowed CPUs, then it says it ran (a file under $HELPER_DIR).
const std::vector<std::string> kShowAffinity = {
    "/bin/sh", "-c",
    "echo \"cpus $(grep Cpus_allowed_list /proc/self/status | cut -f2)\"; "
    "touch \"$HELPER_DIR/ran.$LOCAL_RANK\""};

void Write(const std::string& root, const std::string& rel, const std::string& text) {
  std::string path = root;
  std::vector<std::string> parts = absl::StrSplit(rel, '/');
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    path += "/" + parts[i];
    mkdir(path.c_str(), 0755);
  }
  std::ofstream(path + "/" + parts.back()) << text << "\n";
}

// Two NUMA nodes: node0 = CPU 0, node1 = CPU 1.
std::string TwoNodes(const std::string& name) {
  const std::string root = NewTempDir(name);
  Write(root, "devices/system/node/node0/cpulist", "0");
  Write(root, "devices/system/node/node1/cpulist", "1");
  return root;
}

bool HasCpus01() {
  cpu_set_t set;
  return sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_ISSET(0, &set) && CPU_ISSET(1, &set);
}

bool Ran(const std::string& dir, int local_rank) {
  struct stat st;
  return stat(absl::StrCat(dir, "/ran.", local_rank).c_str(), &st) == 0;
}

std::vector<std::string> Args(std::vector<std::string> flags) {
  flags.insert(flags.end(), kShowAffinity.begin(), kShowAffinity.end());
  return flags;
}

TEST(NumaBindingTest, WithoutGpusEachRankRunsOnItsRoundRobinNodesCpus) {
  if (!HasCpus01()) GTEST_SKIP() << "needs CPUs 0 and 1";
  const std::string dir = NewTempDir("rr");
  FabricRun run(Args({"--devices", "2", "--numa-binding", "node"}),
                {{"FABRIC_SYSFS_ROOT", TwoNodes("rr_sys")}, {"HELPER_DIR", dir}});
  ASSERT_EQ(run.Wait(), 0) << run.err();
  EXPECT_THAT(run.out(), HasSubstr("[rank 0]: cpus 0\n"));
  EXPECT_THAT(run.out(), HasSubstr("[rank 1]: cpus 1\n"));
}

// Negative control: the same job unbound runs on every CPU the agent has.
TEST(NumaBindingTest, WithoutTheFlagWorkersKeepTheAgentsCpus) {
  if (!HasCpus01()) GTEST_SKIP() << "needs CPUs 0 and 1";
  const std::string dir = NewTempDir("off");
  FabricRun run(Args({"--devices", "2"}),
                {{"FABRIC_SYSFS_ROOT", TwoNodes("off_sys")}, {"HELPER_DIR", dir}});
  ASSERT_EQ(run.Wait(), 0) << run.err();
  EXPECT_THAT(run.out(), Not(HasSubstr("[rank 0]: cpus 0\n")));
  EXPECT_THAT(run.out(), Not(HasSubstr("[rank 1]: cpus 1\n")));
}

// GPU 0 (lower PCI address) sits on node1, GPU 1 on node0: the GPU decides, not the rank.
TEST(NumaBindingTest, EachRankRunsOnItsGpusNode) {
  if (!HasCpus01()) GTEST_SKIP() << "needs CPUs 0 and 1";
  const std::string root = TwoNodes("gpu_sys");
  for (const auto& [bdf, node] : {std::pair<std::string, int>{"0000:17:00.0", 1},
                                  std::pair<std::string, int>{"0000:b3:00.0", 0}}) {
    Write(root, "bus/pci/devices/" + bdf + "/vendor", "0x10de");
    Write(root, "bus/pci/devices/" + bdf + "/class", "0x030200");
    Write(root, "bus/pci/devices/" + bdf + "/numa_node", std::to_string(node));
  }
  const std::string dir = NewTempDir("gpu");
  FabricRun run(Args({"--devices", "2", "--numa_binding=exclusive"}),
                {{"FABRIC_SYSFS_ROOT", root}, {"HELPER_DIR", dir}});
  ASSERT_EQ(run.Wait(), 0) << run.err();
  EXPECT_THAT(run.out(), HasSubstr("[rank 0]: cpus 1\n"));
  EXPECT_THAT(run.out(), HasSubstr("[rank 1]: cpus 0\n"));
}

TEST(NumaBindingTest, AnUnknownModeIsOneLineExit2AndNothingStarts) {
  const std::string dir = NewTempDir("bad");
  FabricRun run(Args({"--devices", "2", "--numa-binding", "nodes"}),
                {{"FABRIC_SYSFS_ROOT", TwoNodes("bad_sys")}, {"HELPER_DIR", dir}});
  ASSERT_EQ(run.Wait(), 2) << run.err();
  EXPECT_THAT(run.err(), HasSubstr("fabric-run: --numa-binding: 'nodes' is not a NUMA binding "
                                   "mode; use node, socket, exclusive or core-complex\n"));
  EXPECT_FALSE(Ran(dir, 0));
  EXPECT_FALSE(Ran(dir, 1));
}

// torchrun 2.11 fails too (its binding raises when a node's cpulist is missing).
TEST(NumaBindingTest, AMachineWithoutNumaInformationIsRefusedAndNothingStarts) {
  const std::string dir = NewTempDir("nonuma");
  const std::string root = NewTempDir("nonuma_sys");
  Write(root, "devices/system/cpu/online", "0-1");
  FabricRun run(Args({"--devices", "2", "--numa-binding", "socket"}),
                {{"FABRIC_SYSFS_ROOT", root}, {"HELPER_DIR", dir}});
  ASSERT_EQ(run.Wait(), 2) << run.err();
  EXPECT_EQ(run.err(), absl::StrCat("fabric-run: --numa-binding socket: this machine shows no NUMA "
                                    "information (",
                                    root,
                                    "/devices/system/node is missing); run without "
                                    "--numa-binding\n"));
  EXPECT_FALSE(Ran(dir, 0));
  EXPECT_FALSE(Ran(dir, 1));
}

}  // namespace
}  // namespace fabric::testing
