#include "launcher/proc_stats.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

TEST(ParseProcStatTest, ReadsTheFieldsAfterTheLastParenthesis) {
  // A name with a space and a ')' inside (a program can name itself anything).
  const std::string line =
      "4242 (evil) (name) S 1 777 777 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 123 "
      "1000000 2048 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
  std::optional<ProcStat> s = ParseProcStat(line);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->pid, 4242);
  EXPECT_EQ(s->pgrp, 777);
  EXPECT_EQ(s->utime_ticks, 250u);
  EXPECT_EQ(s->stime_ticks, 50u);
  EXPECT_EQ(s->rss_pages, 2048u);
}

TEST(ParseProcStatTest, RejectsWhatIsNotAStatLine) {
  EXPECT_FALSE(ParseProcStat("").has_value());
  EXPECT_FALSE(ParseProcStat("12 (x) S 1 2").has_value());
  EXPECT_FALSE(ParseProcStat("abc (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22")
                   .has_value());
  EXPECT_FALSE(ParseProcStat("12 )x( S").has_value());
}

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(ReadGroupUsageTest, SumsAGroupOverAFakeProc) {
  const std::string root = absl::StrCat(std::getenv("TEST_TMPDIR"), "/proc");
  mkdir(root.c_str(), 0755);
  auto add = [&](int pid, int pgrp, int utime, int rss) {
    const std::string d = absl::StrCat(root, "/", pid);
    mkdir(d.c_str(), 0755);
    Write(d + "/stat",
          absl::StrCat(pid, " (w) S 1 ", pgrp, " ", pgrp, " 0 -1 0 0 0 0 0 ", utime,
                       " 0 0 0 20 0 1 0 1 1 ", rss, " 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"));
  };
  add(10, 10, 100, 10);
  add(11, 10, 100, 10);                   // the worker's child, same group
  add(20, 20, 5, 1);                      // another group, not asked for
  mkdir((root + "/self").c_str(), 0755);  // not a pid: skipped
  std::map<pid_t, GroupUsage> u = ReadGroupUsage({10, 30}, root);
  ASSERT_EQ(u.size(), 1u) << "group 30 has no process: absent";
  EXPECT_EQ(u[10].processes, 2);
  EXPECT_EQ(u[10].rss_bytes, 20u * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)));
  EXPECT_DOUBLE_EQ(u[10].cpu_s, 200.0 / static_cast<double>(sysconf(_SC_CLK_TCK)));
}

// From a root pid: only the processes below it (children files), not the rest of /proc.
TEST(ReadGroupUsageTest, FromARootReadsItsDescendantsOnly) {
  const std::string root = absl::StrCat(std::getenv("TEST_TMPDIR"), "/proc2");
  mkdir(root.c_str(), 0755);
  auto add = [&](int pid, int pgrp, int utime, const std::string& children) {
    const std::string d = absl::StrCat(root, "/", pid);
    mkdir(d.c_str(), 0755);
    mkdir((d + "/task").c_str(), 0755);
    mkdir(absl::StrCat(d, "/task/", pid).c_str(), 0755);
    Write(absl::StrCat(d, "/task/", pid, "/children"), children);
    Write(d + "/stat",
          absl::StrCat(pid, " (w) S 1 ", pgrp, " ", pgrp, " 0 -1 0 0 0 0 0 ", utime,
                       " 0 0 0 20 0 1 0 1 1 1 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"));
  };
  add(1, 1, 1, "5 ");   // the agent: one worker
  add(5, 5, 10, "6 ");  // the worker (group 5)
  add(6, 5, 20, "");    // its child, same group
  add(9, 5, 400, "");   // in group 5 but not below the agent: not read
  // A second thread of the worker that forked, as a task of its own.
  mkdir((root + "/5/task/7").c_str(), 0755);
  Write(root + "/5/task/7/children", "8");
  add(8, 5, 40, "");
  std::map<pid_t, GroupUsage> u = ReadGroupUsage({5}, root, 1);
  EXPECT_EQ(u[5].processes, 3);
  EXPECT_DOUBLE_EQ(u[5].cpu_s, 70.0 / static_cast<double>(sysconf(_SC_CLK_TCK)));
  // Negative control: the whole-/proc scan sees process 9 too.
  EXPECT_EQ(ReadGroupUsage({5}, root)[5].processes, 4);
  // No children files under the root: the scan.
  EXPECT_EQ(ReadGroupUsage({5}, root, 12345)[5].processes, 4);
}

TEST(ReadGroupUsageTest, SeesARealChildGroupsMemory) {
  // A child in its own group that touches 64 MiB: the real /proc shows at least that.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    setpgid(0, 0);
    const size_t n = size_t{64} << 20;
    char* p = static_cast<char*>(malloc(n));
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
    pause();
    _exit(0);
  }
  setpgid(child, child);
  std::map<pid_t, GroupUsage> u;
  for (int i = 0; i < 200; ++i) {  // until the child has touched its pages (<= 10 s)
    u = ReadGroupUsage({child}, "/proc", getpid());  // through the children files
    if (!u.empty() && u[child].rss_bytes >= (size_t{64} << 20)) break;
    usleep(50000);
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  ASSERT_EQ(u.count(child), 1u);
  EXPECT_GE(u[child].rss_bytes, size_t{64} << 20);
  EXPECT_EQ(u[child].processes, 1);
  // Negative control: the group is gone once reaped.
  EXPECT_TRUE(ReadGroupUsage({child}).empty());
  EXPECT_TRUE(ReadGroupUsage({child}, "/proc", getpid()).empty());
}

}  // namespace
}  // namespace fabric::launcher
