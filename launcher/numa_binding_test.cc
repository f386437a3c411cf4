#include "launcher/numa_binding.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A fake sysfs tree under TEST_TMPDIR, written file by file.
class FakeSysfs : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void Write(const std::string& rel, const std::string& text) {
    std::string path = root_;
    mkdir(path.c_str(), 0755);
    std::vector<std::string> parts = absl::StrSplit(rel, '/');
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      path += "/" + parts[i];
      mkdir(path.c_str(), 0755);
    }
    std::ofstream(path + "/" + parts.back()) << text << "\n";
  }
  void Node(int node, const std::string& cpulist) {
    Write(absl::StrCat("devices/system/node/node", node, "/cpulist"), cpulist);
  }
  // CPU `cpu`: its socket, hyperthread siblings and L3 (plus an L1 instruction cache,
  // which must not count).
  void Cpu(int cpu, int socket, const std::string& siblings, const std::string& l3) {
    const std::string d = absl::StrCat("devices/system/cpu/cpu", cpu);
    Write(d + "/topology/physical_package_id", absl::StrCat(socket));
    Write(d + "/topology/thread_siblings_list", siblings);
    Write(d + "/cache/index0/type", "Instruction");
    Write(d + "/cache/index0/level", "1");
    Write(d + "/cache/index0/shared_cpu_list", absl::StrCat(cpu));
    Write(d + "/cache/index3/type", "Unified");
    Write(d + "/cache/index3/level", "3");
    Write(d + "/cache/index3/shared_cpu_list", l3);
  }
  void Pci(const std::string& bdf, const std::string& vendor, const std::string& cls, int node) {
    Write("bus/pci/devices/" + bdf + "/vendor", vendor);
    Write("bus/pci/devices/" + bdf + "/class", cls);
    Write("bus/pci/devices/" + bdf + "/numa_node", absl::StrCat(node));
  }
  // Two sockets of one NUMA node each; node0 CPUs 0-3, node1 4-7; hyperthread pairs;
  // L3 shared by each pair; GPUs 0,1 on node0 and 2,3 on node1 (PCI order), next to a
  // NIC and the GPUs' audio function, which are not GPUs.
  void TwoNodesFourGpus(bool one_socket = false) {
    Node(0, "0-3");
    Node(1, "4-7");
    for (int c = 0; c < 8; ++c) {
      const int first = c & ~1;
      const std::string pair = absl::StrCat(first, "-", first + 1);
      Cpu(c, one_socket ? 0 : c / 4, pair, pair);
    }
    Pci("0000:af:00.0", "0x10de", "0x030200", 1);
    Pci("0000:17:00.0", "0x10de", "0x030200", 0);
    Pci("0000:17:00.1", "0x10de", "0x040300", 0);  // HDMI audio
    Pci("0000:3a:00.0", "0x10de", "0x030000", 0);
    Pci("0000:50:00.0", "0x15b3", "0x020700", 0);  // a NIC
    Pci("0000:86:00.0", "0x10de", "0x030200", 1);
  }
  std::vector<std::vector<int>> Plan(NumaMode mode, int ranks,
                                     std::vector<int> allowed = {0, 1, 2, 3, 4, 5, 6, 7}) {
    absl::StatusOr<NumaTopology> t = ReadNumaTopology(root_);
    EXPECT_TRUE(t.ok()) << t.status();
    if (!t.ok()) return {};
    absl::StatusOr<std::vector<CpuBinding>> p =
        PlanNumaBinding(mode, *t, allowed, RankGpus(ranks, std::nullopt, {}), ranks);
    EXPECT_TRUE(p.ok()) << p.status();
    std::vector<std::vector<int>> out;
    if (p.ok()) {
      for (const CpuBinding& b : *p) {
        out.push_back(b.cpus);
        nodes_.push_back(b.numa_node);
      }
    }
    return out;
  }
  std::string root_;
  std::vector<int> nodes_;  // the last Plan's numa_node per rank
};

TEST_F(FakeSysfs, ReadsNodesAndOnlyNvidiaGpusInPciOrder) {
  TwoNodesFourGpus();
  absl::StatusOr<NumaTopology> t = ReadNumaTopology(root_);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->node_cpus.at(0), ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(t->node_cpus.at(1), ElementsAre(4, 5, 6, 7));
  EXPECT_THAT(t->gpu_nodes, ElementsAre(0, 0, 1, 1));
  EXPECT_EQ(t->cpu_core.at(5), 4);
  EXPECT_EQ(t->cpu_complex.at(3), 2);  // the L3, not the L1 instruction cache
  EXPECT_EQ(t->cpu_socket.at(6), 1);
}

TEST_F(FakeSysfs, NodeBindsEachRankToEveryCpuOfItsGpusNode) {
  TwoNodesFourGpus();
  EXPECT_THAT(Plan(NumaMode::kNode, 4),
              ElementsAre(ElementsAre(0, 1, 2, 3), ElementsAre(0, 1, 2, 3), ElementsAre(4, 5, 6, 7),
                          ElementsAre(4, 5, 6, 7)));
  EXPECT_THAT(nodes_, ElementsAre(0, 0, 1, 1));
}

TEST_F(FakeSysfs, NodeKeepsOnlyTheCpusTheAgentMayUse) {
  TwoNodesFourGpus();
  EXPECT_THAT(Plan(NumaMode::kNode, 3, {1, 2, 5}),
              ElementsAre(ElementsAre(1, 2), ElementsAre(1, 2), ElementsAre(5)));
}

TEST_F(FakeSysfs, SocketBindsToEveryNodeOfTheSocket) {
  TwoNodesFourGpus(/*one_socket=*/true);
  EXPECT_THAT(Plan(NumaMode::kSocket, 3),
              ElementsAre(ElementsAre(0, 1, 2, 3, 4, 5, 6, 7), ElementsAre(0, 1, 2, 3, 4, 5, 6, 7),
                          ElementsAre(0, 1, 2, 3, 4, 5, 6, 7)));
  EXPECT_THAT(nodes_, ElementsAre(-1, -1, -1));  // several nodes: no preferred one
}

TEST_F(FakeSysfs, SocketWithOneNodePerSocketIsNode) {
  TwoNodesFourGpus();
  EXPECT_THAT(Plan(NumaMode::kSocket, 4),
              ElementsAre(ElementsAre(0, 1, 2, 3), ElementsAre(0, 1, 2, 3), ElementsAre(4, 5, 6, 7),
                          ElementsAre(4, 5, 6, 7)));
  EXPECT_THAT(nodes_, ElementsAre(0, 0, 1, 1));
}

TEST_F(FakeSysfs, ExclusiveSplitsTheNodesPhysicalCoresAmongItsGpus) {
  TwoNodesFourGpus();
  EXPECT_THAT(Plan(NumaMode::kExclusive, 4), ElementsAre(ElementsAre(0, 1), ElementsAre(2, 3),
                                                         ElementsAre(4, 5), ElementsAre(6, 7)));
}

TEST_F(FakeSysfs, ExclusiveGivesTheLowerGpusTheExtraCore) {
  Node(0, "0-2");  // three cores, no hyperthreads, two GPUs
  for (int c = 0; c < 3; ++c) Cpu(c, 0, absl::StrCat(c), "0-2");
  Pci("0000:17:00.0", "0x10de", "0x030200", 0);
  Pci("0000:18:00.0", "0x10de", "0x030200", 0);
  EXPECT_THAT(Plan(NumaMode::kExclusive, 2, {0, 1, 2}),
              ElementsAre(ElementsAre(0, 1), ElementsAre(2)));
}

TEST_F(FakeSysfs, ExclusiveWithFewerCoresThanGpusIsRefused) {
  Node(0, "0-1");
  Cpu(0, 0, "0-1", "0-1");
  Cpu(1, 0, "0-1", "0-1");
  Pci("0000:17:00.0", "0x10de", "0x030200", 0);
  Pci("0000:18:00.0", "0x10de", "0x030200", 0);
  absl::StatusOr<NumaTopology> t = ReadNumaTopology(root_);
  ASSERT_TRUE(t.ok());
  EXPECT_THAT(
      PlanNumaBinding(NumaMode::kExclusive, *t, {0, 1}, {0, 1}, 2),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("1 physical core(s) for 2")));
}

TEST_F(FakeSysfs, CoreComplexGivesEachGpuItsOwnLastLevelCache) {
  TwoNodesFourGpus();
  EXPECT_THAT(Plan(NumaMode::kCoreComplex, 4), ElementsAre(ElementsAre(0, 1), ElementsAre(2, 3),
                                                           ElementsAre(4, 5), ElementsAre(6, 7)));
}

TEST_F(FakeSysfs, CoreComplexPrefersTheLargerCacheGroupAndWrapsAround) {
  Node(0, "0-4");
  for (int c = 0; c < 2; ++c) Cpu(c, 0, absl::StrCat(c), "0-1");
  for (int c = 2; c < 5; ++c) Cpu(c, 0, absl::StrCat(c), "2-4");
  for (const char* bdf : {"0000:17:00.0", "0000:18:00.0", "0000:19:00.0"}) {
    Pci(bdf, "0x10de", "0x030200", 0);
  }
  EXPECT_THAT(Plan(NumaMode::kCoreComplex, 3, {0, 1, 2, 3, 4}),
              ElementsAre(ElementsAre(2, 3, 4), ElementsAre(0, 1), ElementsAre(2, 3, 4)));
}

TEST_F(FakeSysfs, WithoutGpusRanksGoRoundRobinOverTheNodes) {
  Node(0, "0");
  Node(1, "1");
  Node(2, "");  // memory only: no rank goes there
  EXPECT_THAT(Plan(NumaMode::kNode, 3, {0, 1}),
              ElementsAre(ElementsAre(0), ElementsAre(1), ElementsAre(0)));
  EXPECT_THAT(nodes_, ElementsAre(0, 1, 0));
}

TEST_F(FakeSysfs, WithoutGpusExclusiveSplitsANodeAmongItsRanks) {
  Node(0, "0-3");
  Node(1, "4-7");
  EXPECT_THAT(Plan(NumaMode::kExclusive, 4), ElementsAre(ElementsAre(0, 1), ElementsAre(4, 5),
                                                         ElementsAre(2, 3), ElementsAre(6, 7)));
}

TEST_F(FakeSysfs, AGpuWithNoNumaNodeCountsAsNodeZero) {
  Node(0, "0-1");
  Pci("0000:17:00.0", "0x10de", "0x030200", -1);
  EXPECT_THAT(Plan(NumaMode::kNode, 1, {0, 1}), ElementsAre(ElementsAre(0, 1)));
}

TEST_F(FakeSysfs, MoreRanksThanGpusIsRefused) {
  TwoNodesFourGpus();
  absl::StatusOr<NumaTopology> t = ReadNumaTopology(root_);
  ASSERT_TRUE(t.ok());
  EXPECT_THAT(PlanNumaBinding(NumaMode::kNode, *t, {0, 1, 2, 3}, RankGpus(5, std::nullopt, {}), 5),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("local rank 4 would use GPU 4, but this machine has 4")));
}

TEST_F(FakeSysfs, AGpuOnANodeWhoseCpusAreNotAllowedIsRefused) {
  TwoNodesFourGpus();
  absl::StatusOr<NumaTopology> t = ReadNumaTopology(root_);
  ASSERT_TRUE(t.ok());
  EXPECT_THAT(PlanNumaBinding(NumaMode::kNode, *t, {0, 1}, {2}, 1),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("NUMA node 1 has no CPU")));
}

TEST_F(FakeSysfs, NoNodeDirectoryIsNoNumaInformation) {
  Write("devices/system/cpu/online", "0-1");
  EXPECT_THAT(ReadNumaTopology(root_), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                HasSubstr("shows no NUMA information")));
  EXPECT_THAT(ResolveNumaBinding(NumaMode::kNode, 2, std::nullopt, {{kSysfsRootVar, root_}}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("--numa-binding node: this machine shows no NUMA")));
}

TEST(NumaModeTest, ParsesTorchrunsNamesAndRefusesOthersNamingThem) {
  EXPECT_EQ(*ParseNumaMode("core-complex"), NumaMode::kCoreComplex);
  EXPECT_EQ(*ParseNumaMode("exclusive"), NumaMode::kExclusive);
  EXPECT_THAT(ParseNumaMode("nodes"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--numa-binding 'nodes': not a mode; use node, socket, exclusive "
                                 "or core-complex")));
}

TEST(CpuListTest, ParsesAndFormatsRanges) {
  EXPECT_THAT(*ParseCpuList("0-2,4,6-7\n"), ElementsAre(0, 1, 2, 4, 6, 7));
  EXPECT_THAT(*ParseCpuList("\n"), ElementsAre());
  EXPECT_EQ(FormatCpuList({0, 1, 2, 4, 6, 7}), "0-2,4,6-7");
  EXPECT_FALSE(ParseCpuList("3-1").ok());
  EXPECT_FALSE(ParseCpuList("x").ok());
}

TEST(RankGpusTest, DevicesListThenCudaVisibleDevicesThenTheLocalRank) {
  EXPECT_THAT(RankGpus(2, std::vector<int>{3, 1}, {}), ElementsAre(3, 1));
  EXPECT_THAT(RankGpus(3, std::nullopt, {{"CUDA_VISIBLE_DEVICES", "2,0"}}), ElementsAre(2, 0, 2));
  EXPECT_THAT(RankGpus(2, std::nullopt, {}), ElementsAre(0, 1));
}

}  // namespace
}  // namespace fabric::launcher
