// --preload (launcher/zygote_process_launcher.h) with real agents, zygotes and PyTorch
// workers (.venv/bin/python, torch 2.11): a worker sees the same start as a spawned one,
// restarts fork from the zygote, a failing import falls back with one line, and a
// SIGKILLed agent leaves neither the zygote nor its workers.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fabric_run_harness.h"

namespace fabric::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kFallback[] = "spawning Python workers normally";

using View = std::map<std::string, std::string>;

// The VIEW lines of tests/python/worker_view.py, by "restart/rank".
std::map<std::string, View> Views(const std::string& out) {
  std::map<std::string, View> views;
  for (const std::string& line : Lines(out)) {
    const size_t at = line.find("VIEW\t");
    if (at == std::string::npos) continue;
    View v;
    for (absl::string_view kv : absl::StrSplit(line.substr(at + 5), '\t')) {
      std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
      v[p.first] = p.second;
    }
    views[absl::StrCat(v["restart"], "/", v["rank"])] = v;
  }
  return views;
}

std::vector<std::string> Args(const std::string& preload, const std::string& mode,
                              int devices = 2) {
  std::vector<std::string> args = {"--devices", std::to_string(devices), "--python", VenvPython()};
  if (!preload.empty()) args.insert(args.begin(), {"--preload", preload});
  args.push_back(Runfile("tests/python/worker_view.py"));
  args.push_back(mode);
  return args;
}

// The agent's children running the zygote's script that are not in `workers`.
std::vector<pid_t> Zygotes(pid_t agent, const std::set<pid_t>& workers) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  while (dirent* e = d != nullptr ? readdir(d) : nullptr) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid) || workers.count(pid) > 0) continue;
    const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::vector<std::string> f = absl::StrSplit(stat.substr(paren + 2), ' ');
    if (f.size() < 2 || f[1] != std::to_string(agent)) continue;
    if (absl::StrContains(ReadFile(absl::StrCat("/proc/", pid, "/cmdline")), "fabric_zygote.py")) {
      out.push_back(pid);
    }
  }
  if (d != nullptr) closedir(d);
  return out;
}

// With 2 workers (OMP_NUM_THREADS=1 set by the agent) and 1 (unset: torch's default threads).
class PreloadViewTest : public ::testing::TestWithParam<int> {};

TEST_P(PreloadViewTest, WorkerSeesTheSameStartAsASpawnedOne) {
  ASSERT_FALSE(VenvPython().empty()) << "no .venv/bin/python: run tools/setup.sh";
  const int devices = GetParam();
  std::map<std::string, std::map<std::string, View>> by_mode;
  for (const std::string preload : {"", "torch"}) {
    FabricRun run(Args(preload, "ok", devices));
    ASSERT_EQ(run.Wait(absl::Seconds(300)), 0) << run.out() << run.err();
    EXPECT_THAT(run.err(), Not(HasSubstr(kFallback)));
    std::map<std::string, View> views = Views(run.out());
    ASSERT_EQ(views.size(), static_cast<size_t>(devices)) << run.out();
    const std::string port = views["0/0"]["master_port"];
    for (auto& [key, v] : views) {
      EXPECT_EQ(v["ppid"], std::to_string(run.pid())) << key << " " << preload;  // the agent's
      EXPECT_EQ(v["pid_is_pgrp"], "True") << key;
      EXPECT_EQ(v["master_port"], port);
      EXPECT_EQ(v["preloaded"], preload.empty() ? "False" : "True") << key;
      for (const char* varies : {"ppid", "master_port", "preloaded"}) v.erase(varies);
      // The agent's scratch directory (on PYTHONPATH for fabric_heartbeat) is per run.
      const size_t scratch = v["path"].find("/fabric-run-");
      if (scratch != std::string::npos) v["path"].replace(scratch, 18, "/fabric-run-*");
    }
    by_mode[preload] = views;
  }
  for (const auto& [key, view] : by_mode[""]) {
    for (const auto& [field, value] : view) {
      EXPECT_EQ(by_mode["torch"][key][field], value) << key << " " << field;
    }
  }
  const std::string last = absl::StrCat("0/", devices - 1);
  EXPECT_EQ(by_mode[""][last]["name"], "__main__");
  EXPECT_EQ(by_mode[""][last]["local_rank"], std::to_string(devices - 1));
  if (devices > 1) EXPECT_EQ(by_mode[""][last]["threads"], "1");  // OMP_NUM_THREADS=1
  if (devices == 1) EXPECT_EQ(by_mode[""][last]["omp"], "None");  // torch's own default
}

INSTANTIATE_TEST_SUITE_P(Devices, PreloadViewTest, ::testing::Values(2, 1));

TEST(PreloadTest, RestartedAttemptIsForkedFromTheZygoteToo) {
  ASSERT_FALSE(VenvPython().empty()) << "no .venv/bin/python: run tools/setup.sh";
  std::vector<std::string> args = Args("torch", "fail-first");
  args.insert(args.begin(), {"--max-restarts", "1"});
  FabricRun run(args);
  ASSERT_EQ(run.Wait(absl::Seconds(300)), 0) << run.out() << run.err();
  EXPECT_THAT(run.err(), Not(HasSubstr(kFallback)));
  std::map<std::string, View> views = Views(run.out());
  for (const std::string key : {"0/0", "0/1", "1/0", "1/1"}) {
    EXPECT_EQ(views[key]["preloaded"], "True") << key << "\n" << run.out() << run.err();
  }
  EXPECT_THAT(run.err(), HasSubstr("rank 1"));  // the first attempt's failure is reported
}

TEST(PreloadTest, FailingPreloadImportFallsBackToSpawningWithOneLine) {
  ASSERT_FALSE(VenvPython().empty()) << "no .venv/bin/python: run tools/setup.sh";
  FabricRun run(Args("torch,no_such_module_for_fabric", "ok"));
  ASSERT_EQ(run.Wait(absl::Seconds(300)), 0) << run.out() << run.err();
  EXPECT_THAT(run.err(), HasSubstr("fabric-run: --preload torch,no_such_module_for_fabric: import "
                                   "no_such_module_for_fabric failed: ModuleNotFoundError: No "
                                   "module named 'no_such_module_for_fabric'; spawning Python "
                                   "workers normally\n"));
  std::map<std::string, View> views = Views(run.out());
  ASSERT_EQ(views.size(), 2u) << run.out();
  EXPECT_EQ(views["0/0"]["preloaded"], "False");
}

TEST(PreloadTest, AgentSigkillLeavesNeitherZygoteNorWorkers) {
  ASSERT_FALSE(VenvPython().empty()) << "no .venv/bin/python: run tools/setup.sh";
  const std::string dir = NewTempDir("preload_kill");
  FabricRun run(Args("torch", "sleep"), {{"HELPER_DIR", dir}});
  std::set<pid_t> workers;
  for (int r = 0; r < 2; ++r) {
    const pid_t pid = WaitForPidFile(dir, "worker", r, absl::Seconds(120));
    ASSERT_GT(pid, 0) << run.out() << run.err();
    workers.insert(pid);
  }
  std::vector<pid_t> zygotes = Zygotes(run.pid(), workers);
  ASSERT_EQ(zygotes.size(), 1u) << run.err();
  ASSERT_EQ(kill(run.pid(), SIGKILL), 0);
  for (pid_t pid : workers) EXPECT_TRUE(WaitGone(pid, absl::Seconds(10))) << "worker " << pid;
  EXPECT_TRUE(WaitGone(zygotes[0], absl::Seconds(10))) << "zygote " << zygotes[0];
  EXPECT_TRUE(Alive(getpid()));  // negative control of Alive()
}

}  // namespace
}  // namespace fabric::testing
