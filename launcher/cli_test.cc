// ParseCommandLine's tests: one file over 500 lines because they test the one table of
// flags and its resolution order (one fixture: environment, machine facts).
#include "launcher/cli.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

// A scratch directory with programs the parser can stat:
//   bin/tool (0755), bin/python3 (0755), bin/plain (0644), script.py (0644),
//   dir.py/ and adir/ (directories), local (0755, not in PATH).
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string templ = absl::StrCat(tmp ? tmp : "/tmp", "/cli_test.XXXXXX");
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    root_ = templ;
    bin_ = root_ + "/bin";
    ASSERT_EQ(::mkdir(bin_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((root_ + "/adir").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((root_ + "/dir.py").c_str(), 0755), 0);
    Touch(bin_ + "/tool", 0755);
    Touch(bin_ + "/python3", 0755);
    Touch(bin_ + "/plain", 0644);
    Touch(root_ + "/local", 0755);
    Touch(root_ + "/script.py", 0644);
    env_ = {{"PATH", bin_}};
    machine_.nvidia_gpus = 4;
  }

  static void Touch(const std::string& path, mode_t mode) {
    std::ofstream(path) << "#!/bin/sh\n";
    ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
  }

  absl::StatusOr<CliResult> Parse(std::vector<std::string> args) const {
    return ParseCommandLine(args, env_, machine_);
  }

  // Parses a successful run and returns its options.
  LaunchOptions Ok(std::vector<std::string> args) const {
    absl::StatusOr<CliResult> r = Parse(args);
    EXPECT_THAT(r, IsOk()) << absl::StrJoin(args, " ");
    if (!r.ok()) return {};
    EXPECT_EQ(r->action, CliResult::Action::kRun);
    return r->options;
  }

  std::string root_, bin_;
  EnvMap env_;
  MachineFacts machine_;  // SetUp: a 4-GPU machine unless a test says otherwise
};

TEST_F(CliTest, DefaultsMatchLaunchOptions) {
  LaunchOptions o = Ok({"tool"});
  EXPECT_EQ(o.accelerator, "cpu");
  EXPECT_FALSE(o.accelerator_set);  // resolved to cpu, but not exported as LT_ACCELERATOR
  EXPECT_EQ(o.strategy, "");        // not given: LT_STRATEGY is not exported
  EXPECT_EQ(o.devices, 1);
  EXPECT_FALSE(o.device_ids.has_value());
  EXPECT_EQ(o.min_nodes, 1);
  EXPECT_EQ(o.max_nodes, 1);
  EXPECT_FALSE(o.node_rank.has_value());
  EXPECT_EQ(o.main_address, "127.0.0.1");
  EXPECT_EQ(o.main_port, 29400);
  EXPECT_FALSE(o.main_port_set);
  EXPECT_EQ(o.precision, "");  // not given: LT_PRECISION is not exported
  EXPECT_EQ(o.max_restarts, 0);
  EXPECT_EQ(o.grace_period, absl::Seconds(30));
  EXPECT_FALSE(o.recovery_in_place);
  EXPECT_EQ(o.recovery_timeout, absl::Seconds(30));
  EXPECT_TRUE(o.console.all);
  EXPECT_FALSE(o.console.quiet);
  EXPECT_FALSE(o.standalone);
  EXPECT_EQ(o.rdzv_endpoint, "");
  EXPECT_THAT(o.program_argv, ElementsAre("tool"));
  EXPECT_THAT(o.exec_argv, ElementsAre(bin_ + "/tool"));
}

// Every flag in both `--flag value` and `--flag=value` form, and aliases.
struct FormCase {
  std::vector<std::string> flags;
  std::function<void(const LaunchOptions&)> check;
};

TEST_F(CliTest, FlagFormsAndAliases) {
  const std::vector<FormCase> cases = {
      {{"--devices", "4"}, [](auto& o) { EXPECT_EQ(o.devices, 4); }},
      {{"--devices=4"}, [](auto& o) { EXPECT_EQ(o.devices, 4); }},
      {{"--nproc_per_node", "3"}, [](auto& o) { EXPECT_EQ(o.devices, 3); }},
      {{"--nproc-per-node=3"}, [](auto& o) { EXPECT_EQ(o.devices, 3); }},
      {{"--devices", "auto"}, [](auto& o) { EXPECT_EQ(o.devices, 1); }},
      {{"--num-nodes", "2"},
       [](auto& o) {
         EXPECT_EQ(o.min_nodes, 2);
         EXPECT_EQ(o.max_nodes, 2);
       }},
      {{"--nnodes=1:4"},
       [](auto& o) {
         EXPECT_EQ(o.min_nodes, 1);
         EXPECT_EQ(o.max_nodes, 4);
       }},
      {{"--num_nodes", "2:3"},
       [](auto& o) {
         EXPECT_EQ(o.min_nodes, 2);
         EXPECT_EQ(o.max_nodes, 3);
       }},
      {{"--num-nodes", "2", "--node-rank", "1"}, [](auto& o) { EXPECT_EQ(o.node_rank, 1); }},
      {{"--nnodes", "2", "--node_rank=0"}, [](auto& o) { EXPECT_EQ(o.node_rank, 0); }},
      {{"--main-address", "10.1.2.3"}, [](auto& o) { EXPECT_EQ(o.main_address, "10.1.2.3"); }},
      {{"--master_addr=node7"}, [](auto& o) { EXPECT_EQ(o.main_address, "node7"); }},
      {{"--main-address", "fe80::1"}, [](auto& o) { EXPECT_EQ(o.main_address, "fe80::1"); }},
      {{"--main-port", "1234"},
       [](auto& o) {
         EXPECT_EQ(o.main_port, 1234);
         EXPECT_TRUE(o.main_port_set);
       }},
      {{"--master_port=65535"}, [](auto& o) { EXPECT_EQ(o.main_port, 65535); }},
      {{"--accelerator", "cpu"}, [](auto& o) { EXPECT_EQ(o.accelerator, "cpu"); }},
      {{"--accelerator=gpu", "--devices", "2"}, [](auto& o) { EXPECT_EQ(o.accelerator, "cuda"); }},
      {{"--accelerator", "cuda", "--devices", "1"},
       [](auto& o) { EXPECT_EQ(o.accelerator, "cuda"); }},
      {{"--accelerator", "auto"}, [](auto& o) { EXPECT_EQ(o.accelerator, "cuda"); }},
      {{"--strategy", "ddp"}, [](auto& o) { EXPECT_EQ(o.strategy, "ddp"); }},
      {{"--strategy=fsdp"}, [](auto& o) { EXPECT_EQ(o.strategy, "fsdp"); }},
      {{"--strategy", "ddp_find_unused_parameters_true"},
       [](auto& o) { EXPECT_EQ(o.strategy, "ddp_find_unused_parameters_true"); }},
      {{"--accelerator", "auto", "--devices", "0,1"},
       [](auto& o) {
         EXPECT_EQ(o.accelerator, "cuda");
         EXPECT_EQ(o.devices, 2);
       }},
      {{"--precision", "bf16-mixed"}, [](auto& o) { EXPECT_EQ(o.precision, "bf16-mixed"); }},
      {{"--precision=16"}, [](auto& o) { EXPECT_EQ(o.precision, "16-mixed"); }},
      {{"--precision", "bf16"}, [](auto& o) { EXPECT_EQ(o.precision, "bf16-mixed"); }},
      {{"--precision", "32"}, [](auto& o) { EXPECT_EQ(o.precision, "32-true"); }},
      {{"--precision", "64"}, [](auto& o) { EXPECT_EQ(o.precision, "64-true"); }},
      {{"--precision", "16-true"}, [](auto& o) { EXPECT_EQ(o.precision, "16-true"); }},
      {{"--max-restarts", "3"}, [](auto& o) { EXPECT_EQ(o.max_restarts, 3); }},
      {{"--max_restarts=2"}, [](auto& o) { EXPECT_EQ(o.max_restarts, 2); }},
      {{"--run-id", "job.7_a-b"}, [](auto& o) { EXPECT_EQ(o.run_id, "job.7_a-b"); }},
      {{"--rdzv_id=abc"}, [](auto& o) { EXPECT_EQ(o.run_id, "abc"); }},
      {{"--grace-period", "5"}, [](auto& o) { EXPECT_EQ(o.grace_period, absl::Seconds(5)); }},
      {{"--grace-period=2.5"},
       [](auto& o) { EXPECT_EQ(o.grace_period, absl::Milliseconds(2500)); }},
      {{"--grace-period", "500ms"},
       [](auto& o) { EXPECT_EQ(o.grace_period, absl::Milliseconds(500)); }},
      {{"--grace-period", "2m"}, [](auto& o) { EXPECT_EQ(o.grace_period, absl::Minutes(2)); }},
      {{"--grace-period", "0"}, [](auto& o) { EXPECT_EQ(o.grace_period, absl::ZeroDuration()); }},
      {{"--join-timeout", "90s"}, [](auto& o) { EXPECT_EQ(o.join_timeout, absl::Seconds(90)); }},
      {{"--last-call-timeout=250ms"},
       [](auto& o) { EXPECT_EQ(o.last_call_timeout, absl::Milliseconds(250)); }},
      {{"--keepalive-timeout", "12"},
       [](auto& o) { EXPECT_EQ(o.keepalive_timeout, absl::Seconds(12)); }},
      {{"--log-dir", "/tmp/logs"}, [](auto& o) { EXPECT_EQ(o.log_dir, "/tmp/logs"); }},
      {{"--log_dir=out"}, [](auto& o) { EXPECT_EQ(o.log_dir, "out"); }},
      {{"--standalone"}, [](auto& o) { EXPECT_TRUE(o.standalone); }},
      {{"--standalone=false"}, [](auto& o) { EXPECT_FALSE(o.standalone); }},
      {{"--rdzv-endpoint", "node0:29500"},
       [](auto& o) { EXPECT_EQ(o.rdzv_endpoint, "node0:29500"); }},
      {{"--num-nodes", "2", "--rdzv_endpoint=[::1]:80"},
       [](auto& o) { EXPECT_EQ(o.rdzv_endpoint, "[::1]:80"); }},
      {{"--quiet"},
       [](auto& o) {
         EXPECT_TRUE(o.console.quiet);
         EXPECT_FALSE(o.console.all);
       }},
      {{"--console-ranks", "none"}, [](auto& o) { EXPECT_TRUE(o.console.quiet); }},
      {{"--console-ranks", "all"}, [](auto& o) { EXPECT_TRUE(o.console.all); }},
      {{"--devices", "4", "--console-ranks", "0,2-3"},
       [](auto& o) {
         EXPECT_FALSE(o.console.all);
         EXPECT_FALSE(o.console.quiet);
         EXPECT_THAT(o.console.ranks, ElementsAre(0, 2, 3));
       }},
      {{"--devices", "4", "--console_ranks=3,1,1-2"},
       [](auto& o) { EXPECT_THAT(o.console.ranks, ElementsAre(1, 2, 3)); }},
      // The last occurrence wins.
      {{"--devices", "2", "--devices", "5"}, [](auto& o) { EXPECT_EQ(o.devices, 5); }},
  };
  for (const FormCase& c : cases) {
    SCOPED_TRACE(absl::StrJoin(c.flags, " "));
    std::vector<std::string> args = c.flags;
    args.push_back("tool");
    c.check(Ok(args));
  }
}

TEST_F(CliTest, RecoveryModeAndTimeout) {
  LaunchOptions o = Ok({"--recovery", "in-place", "--recovery-timeout", "5s", "tool"});
  EXPECT_TRUE(o.recovery_in_place);
  EXPECT_EQ(o.recovery_timeout, absl::Seconds(5));
  EXPECT_FALSE(Ok({"--recovery=gang", "tool"}).recovery_in_place);
  absl::StatusOr<CliResult> bad = Parse({"--recovery", "spare", "tool"});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("--recovery"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("gang or in-place"));
  EXPECT_FALSE(Parse({"--recovery-timeout", "0", "tool"}).ok());
  EXPECT_EQ(Ok({"--recovery", "in-place", "--spares", "2", "tool"}).spares, 2);
  EXPECT_EQ(Ok({"tool"}).spares, 0);
  absl::StatusOr<CliResult> no_in_place = Parse({"--spares", "1", "tool"});
  ASSERT_FALSE(no_in_place.ok());
  EXPECT_THAT(std::string(no_in_place.status().message()), HasSubstr("needs --recovery in-place"));
  EXPECT_FALSE(Parse({"--recovery", "in-place", "--spares", "-1", "tool"}).ok());
}

TEST_F(CliTest, DeviceIdListImpliesCudaAndCountsIds) {
  LaunchOptions o = Ok({"--devices", "0,2", "tool"});
  EXPECT_EQ(o.accelerator, "cuda");
  EXPECT_EQ(o.devices, 2);
  EXPECT_EQ(o.devices_spec, "0,2");
  ASSERT_TRUE(o.device_ids.has_value());
  EXPECT_THAT(*o.device_ids, ElementsAre(0, 2));
}

TEST_F(CliTest, TrailingCommaIsASingleIdList) {
  LaunchOptions o = Ok({"--accelerator", "gpu", "--devices", "1,", "tool"});
  ASSERT_TRUE(o.device_ids.has_value());
  EXPECT_THAT(*o.device_ids, ElementsAre(1));
  EXPECT_EQ(o.devices, 1);
}

TEST_F(CliTest, AutoDevicesOnCudaCountsCudaVisibleDevices) {
  env_["CUDA_VISIBLE_DEVICES"] = "0,1,3";
  LaunchOptions o = Ok({"--accelerator", "cuda", "--devices", "auto", "tool"});
  EXPECT_EQ(o.devices, 3);
  LaunchOptions a = Ok({"--accelerator", "auto", "--devices", "auto", "tool"});
  EXPECT_EQ(a.accelerator, "cuda");
  EXPECT_EQ(a.devices, 3);
  LaunchOptions m = Ok({"--accelerator", "gpu", "--devices", "-1", "tool"});
  EXPECT_EQ(m.devices, 3);
}

TEST_F(CliTest, AutoDevicesOnCudaCountsTheDriversGpusWithoutCudaVisibleDevices) {
  EXPECT_EQ(Ok({"--accelerator", "cuda", "--devices", "auto", "tool"}).devices, 4);
  EXPECT_EQ(Ok({"--devices", "auto", "--accelerator", "auto", "tool"}).accelerator, "cuda");
  EXPECT_THAT(Parse({"--accelerator", "cuda", "--devices", "5", "tool"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("more GPUs than the 4 GPU(s) of this machine")));
}

TEST_F(CliTest, CudaVisibleDevicesWinsOverTheDriversCount) {
  machine_.nvidia_gpus = 0;  // e.g. a container that hides /proc/driver/nvidia
  env_["CUDA_VISIBLE_DEVICES"] = "0,1";
  EXPECT_EQ(Ok({"--accelerator", "cuda", "--devices", "2", "tool"}).accelerator, "cuda");
}

TEST_F(CliTest, AutoAcceleratorIsCpuWithoutGpus) {
  machine_.nvidia_gpus = 0;
  LaunchOptions o = Ok({"--accelerator", "auto", "--devices", "auto", "tool"});
  EXPECT_EQ(o.accelerator, "cpu");
  EXPECT_EQ(o.devices, 1);
}

TEST(CountNvidiaGpusTest, CountsTheDriversEntries) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/gpus.XXXXXX");
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  EXPECT_EQ(CountNvidiaGpus(dir), 0);
  ASSERT_EQ(::mkdir((dir + "/0000:18:00.0").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir + "/0000:2a:00.0").c_str(), 0755), 0);
  EXPECT_EQ(CountNvidiaGpus(dir), 2);
  EXPECT_EQ(CountNvidiaGpus(dir + "/absent"), 0);
}

TEST_F(CliTest, AutoAcceleratorIsCpuWhenNoGpuIsVisible) {
  env_["CUDA_VISIBLE_DEVICES"] = "-1";
  LaunchOptions o = Ok({"--accelerator", "auto", "--devices", "auto", "tool"});
  EXPECT_EQ(o.accelerator, "cpu");
  EXPECT_EQ(o.devices, 1);
}

// Each bad input: one line, InvalidArgument, naming the flag (or variable).
struct ErrorCase {
  std::vector<std::string> args;
  std::vector<std::string> must_mention;
  EnvMap extra_env;
};

TEST_F(CliTest, BadInputNamesTheFlag) {
  const std::vector<ErrorCase> cases = {
      {{"--devcies", "2", "tool"}, {"unknown flag --devcies", "--devices"}},
      {{"--num-node", "2", "tool"}, {"--num-node", "did you mean --num-nodes"}},
      {{"--max_restart=2", "tool"}, {"--max_restart", "--max-restarts"}},
      {{"--zzzzzzzzzzzzzz", "tool"}, {"unknown flag --zzzzzzzzzzzzzz", "--help"}},
      {{"-x", "tool"}, {"unknown flag -x"}},
      {{"---", "tool"}, {"unknown flag ---"}},
      {{"--devices", "0", "tool"}, {"--devices", "'0'", "out of range"}},
      {{"--devices", "abc", "tool"}, {"--devices", "'abc'", "whole number"}},
      {{"--devices", "-2", "tool"}, {"--devices", "'-2'"}},
      {{"--devices", "0,a", "tool"}, {"--devices", "bad GPU id 'a'"}},
      {{"--devices", "0,0", "tool"}, {"--devices", "twice"}},
      {{"--devices", ",", "tool"}, {"--devices", "no GPU ids"}},
      {{"--accelerator", "cpu", "--devices", "0,1", "tool"},
       {"--devices", "needs --accelerator cuda"}},
      {{"--accelerator", "cuda", "--devices", "auto", "tool"},
       {"--accelerator", "no NVIDIA GPU", "use --accelerator cpu"}},
      {{"--accelerator", "cuda", "tool"}, {"--accelerator", "no NVIDIA GPU"}},
      {{"--devices", "0,1", "tool"}, {"--devices", "no NVIDIA GPU"}},
      {{"--accelerator", "gpu", "tool"},
       {"--accelerator", "CUDA_VISIBLE_DEVICES hides every GPU"},
       {{"CUDA_VISIBLE_DEVICES", "-1"}}},
      {{"--strategy", "dp", "tool"}, {"--strategy", "one process per device", "ddp"}},
      {{"--accelerator", "cuda", "--devices", "0,2", "tool"},
       {"--devices", "CUDA_VISIBLE_DEVICES"},
       {{"CUDA_VISIBLE_DEVICES", "0,1"}}},
      {{"--accelerator", "cuda", "--devices", "3", "tool"},
       {"--devices", "more GPUs"},
       {{"CUDA_VISIBLE_DEVICES", "0,1"}}},
      {{"--accelerator", "tpu", "tool"}, {"--accelerator", "'tpu'", "cpu, cuda"}},
      {{"--strategy", "ddp_spawn", "tool"}, {"--strategy", "use --strategy ddp"}},
      {{"--strategy", "deepspeed", "tool"}, {"--strategy", "not supported"}},
      {{"--strategy", "magic", "tool"}, {"--strategy", "'magic'", "ddp"}},
      {{"--num-nodes", "0", "tool"}, {"--num-nodes", "'0'"}},
      {{"--num-nodes", "3:2", "tool"}, {"--num-nodes", "'3:2'", "MIN <= MAX"}},
      {{"--num-nodes", "1:2:3", "tool"}, {"--num-nodes", "MIN:MAX"}},
      {{"--num-nodes", "x", "tool"}, {"--num-nodes", "'x'"}},
      {{"--node-rank", "1", "tool"}, {"--node-rank", "number of nodes (1)"}},
      {{"--num-nodes", "2", "--node-rank", "2", "tool"}, {"--node-rank", "0-1"}},
      {{"--num-nodes", "1:3", "--node-rank", "3", "tool"}, {"--node-rank", "(3)"}},
      {{"--node-rank", "-1", "tool"}, {"--node-rank", "'-1'"}},
      {{"--main-address", "node0:29400", "tool"}, {"--main-address", "--main-port"}},
      {{"--master_addr", "http://node0", "tool"}, {"--master_addr", "host name"}},
      {{"--main-port", "0", "tool"}, {"--main-port", "1-65535"}},
      {{"--main-port", "65536", "tool"}, {"--main-port", "1-65535"}},
      {{"--master_port=http", "tool"}, {"--master_port", "1-65535"}},
      {{"--max-restarts", "-1", "tool"}, {"--max-restarts", "'-1'", ">= 0"}},
      {{"--max-restarts", "many", "tool"}, {"--max-restarts", "'many'"}},
      {{"--precision", "8", "tool"}, {"--precision", "'8'", "bf16-mixed"}},
      {{"--devices", "tool"}, {"--devices", "whole number"}},
      {{"--grace-period", "soon", "tool"}, {"--grace-period", "'soon'", "500ms"}},
      {{"--grace-period", "-1", "tool"}, {"--grace-period", "negative"}},
      {{"--grace-period", "inf", "tool"}, {"--grace-period", "'inf'"}},
      {{"--grace-period", "5x", "tool"}, {"--grace-period", "'5x'"}},
      {{"--join-timeout", "0", "tool"}, {"--join-timeout", "more than 0"}},
      {{"--keepalive-timeout", "0s", "tool"}, {"--keepalive-timeout", "more than 0"}},
      {{"--last-call-timeout", "x", "tool"}, {"--last-call-timeout", "'x'"}},
      // torchrun's meaning: "node0" is node0:29400 (TorchrunEndpointsOfOneNodeNeedNoRendezvous).
      {{"--num-nodes", "2", "--rdzv-endpoint", "node0:0", "tool"},
       {"--rdzv-endpoint", "cannot know"}},
      {{"--rdzv-endpoint", ":29400", "tool"}, {"--rdzv-endpoint", "empty host"}},
      {{"--rdzv-endpoint", "node0:-1", "tool"}, {"--rdzv-endpoint", "1-65535"}},
      {{"--rdzv-endpoint", "node0:99999", "tool"}, {"--rdzv-endpoint", "1-65535"}},
      {{"--rdzv-endpoint", "::1:80", "tool"}, {"--rdzv-endpoint", "[::1]"}},
      {{"--rdzv-endpoint", "[::1]", "tool"}, {"--rdzv-endpoint", "[IPV6]:PORT"}},
      {{"--standalone=maybe", "tool"}, {"--standalone", "true or false"}},
      {{"--quiet", "--console-ranks", "0", "tool"}, {"--quiet", "--console-ranks"}},
      {{"--console-ranks", "0,x", "tool"}, {"--console-ranks", "'x'"}},
      {{"--console-ranks", "3-1", "tool"}, {"--console-ranks", "'3-1'"}},
      {{"--devices", "2", "--console-ranks", "2", "tool"}, {"--console-ranks", "at most 2 ranks"}},
      {{"--run-id", "a/b", "tool"}, {"--run-id", "[A-Za-z0-9._-]"}},
      {{"--help=yes"}, {"--help", "takes no value"}},
      {{"--devices="}, {"--devices", "empty value"}},
      {{}, {"no program given"}},
      {{"--devices", "2"}, {"no program given"}},
      {{"--"}, {"no program given"}},
      {{"nosuchprog"}, {"'nosuchprog'", "not found in PATH", "./nosuchprog"}},
      {{"local"}, {"'local'", "not found in PATH", "./local"}},
      {{"./nosuch"}, {"'./nosuch'", "does not exist"}},
      {{"plain"}, {"'plain'", "not found in PATH"}},  // PATH skips non-executables
  };
  for (ErrorCase c : cases) {
    SCOPED_TRACE(absl::StrJoin(c.args, " "));
    EnvMap env = env_;
    for (const auto& [k, v] : c.extra_env) env[k] = v;
    absl::StatusOr<CliResult> r = ParseCommandLine(c.args, env);
    ASSERT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument, Not(HasSubstr("\n"))));
    for (const std::string& s : c.must_mention) {
      EXPECT_THAT(std::string(r.status().message()), HasSubstr(s));
    }
  }
}

TEST_F(CliTest, MissingValueNamesTheFlag) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--devices"},
        std::vector<std::string>{"--devices", "--num-nodes", "2", "tool"},
        std::vector<std::string>{"--main-port"}}) {
    SCOPED_TRACE(absl::StrJoin(args, " "));
    EXPECT_THAT(Parse(args), StatusIs(absl::StatusCode::kInvalidArgument,
                                      AllOf(HasSubstr(args[0]), HasSubstr("missing value"))));
  }
}

TEST_F(CliTest, ProgramPathChecks) {
  EXPECT_THAT(Parse({root_ + "/adir"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is a directory")));
  EXPECT_THAT(Parse({bin_ + "/plain"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not executable")));
  EXPECT_THAT(Parse({"--python", bin_ + "/python3", root_ + "/missing.py"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not exist")));
  EXPECT_THAT(Parse({"--python", bin_ + "/python3", root_ + "/dir.py"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is a directory")));
}

TEST_F(CliTest, UnreadableScriptIsRefused) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can read any file";
  Touch(root_ + "/secret.py", 0200);
  EXPECT_THAT(Parse({"--python", bin_ + "/python3", root_ + "/secret.py"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not readable")));
}

TEST_F(CliTest, PathLookupResolvesFirstExecutableMatch) {
  const std::string other = root_ + "/other";
  ASSERT_EQ(::mkdir(other.c_str(), 0755), 0);
  Touch(other + "/plain", 0755);  // bin/plain is not executable: skipped
  Touch(other + "/tool", 0755);   // bin/tool comes first
  env_["PATH"] = absl::StrCat(bin_, ":", other);
  EXPECT_THAT(Ok({"plain"}).exec_argv, ElementsAre(other + "/plain"));
  EXPECT_THAT(Ok({"tool"}).exec_argv, ElementsAre(bin_ + "/tool"));
}

TEST_F(CliTest, NoPathVariableFallsBackToExecvpDefault) {
  env_.erase("PATH");
  EXPECT_THAT(Parse({"tool"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("/bin:/usr/bin")));
}

TEST_F(CliTest, PathsWithSlashAreNotLookedUp) {
  const std::string local = root_ + "/local";
  EXPECT_THAT(Ok({local, "x"}).exec_argv, ElementsAre(local, "x"));
}

TEST_F(CliTest, RelativePathStaysRelative) {
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(::chdir(root_.c_str()), 0);
  absl::StatusOr<CliResult> r = Parse({"./local", "a"});
  absl::StatusOr<CliResult> py = Parse({"--python", "python3", "script.py"});
  ASSERT_EQ(::chdir(cwd), 0);
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->options.exec_argv, ElementsAre("./local", "a"));
  ASSERT_THAT(py, IsOk());
  EXPECT_THAT(py->options.exec_argv, ElementsAre(bin_ + "/python3", "script.py"));
}

TEST_F(CliTest, PythonScriptRunsUnderPython) {
  const std::string script = root_ + "/script.py";
  LaunchOptions o = Ok({"--python", bin_ + "/python3", script, "--lr", "0.1"});
  EXPECT_THAT(o.exec_argv, ElementsAre(bin_ + "/python3", script, "--lr", "0.1"));
  EXPECT_THAT(o.program_argv, ElementsAre(script, "--lr", "0.1"));
}

TEST_F(CliTest, PythonNameIsLookedUpInPath) {
  const std::string script = root_ + "/script.py";
  env_["FABRIC_PYTHON"] = "python3";
  EXPECT_THAT(Ok({script}).exec_argv, ElementsAre(bin_ + "/python3", script));
}

TEST_F(CliTest, AcceleratorIsGivenByTheFlagTheVariableOrAGpuList) {
  EXPECT_TRUE(Ok({"--accelerator", "cpu", "tool"}).accelerator_set);
  EXPECT_TRUE(Ok({"--devices", "0,1", "tool"}).accelerator_set);
  env_["FABRIC_ACCELERATOR"] = "cpu";
  EXPECT_TRUE(Ok({"tool"}).accelerator_set);
}

TEST_F(CliTest, TorchrunOnlyFlagsAreHonoured) {
  const std::string script = root_ + "/script.py";
  LaunchOptions o = Ok({"--role", "trainer", "--monitor-interval", "5", "--start-method", "fork",
                        "--rdzv-backend", "c10d", "--rdzv-conf",
                        "join_timeout=30,last_call_timeout=2,keep_alive_interval=3,"
                        "keep_alive_max_attempt=4,is_host=1",
                        "--event-log-handler", "null", "--signals-to-handle", "SIGTERM,USR1",
                        "--local-ranks-filter", "0", "--virtual-local-rank", "tool"});
  EXPECT_EQ(o.role, "trainer");
  EXPECT_EQ(o.join_timeout, absl::Seconds(30));
  EXPECT_EQ(o.last_call_timeout, absl::Seconds(2));
  EXPECT_EQ(o.keepalive_timeout, absl::Seconds(12));
  ASSERT_TRUE(o.console.local_ranks.has_value());
  EXPECT_THAT(*o.console.local_ranks, ElementsAre(0));
  EXPECT_TRUE(o.virtual_local_rank);
  // fabric-run's own flag wins over --rdzv-conf's key.
  EXPECT_EQ(Ok({"--join-timeout", "5s", "--rdzv-conf", "join_timeout=30", "tool"}).join_timeout,
            absl::Seconds(5));
}

TEST_F(CliTest, EtcdBackendTakesTorchrunsSpellingsMembersGraceAndTls) {
  for (const char* name : {"etcd", "etcd-v2", "etcd-v3", "ETCD"}) {
    SCOPED_TRACE(name);
    LaunchOptions o = Ok({"--rdzv-backend", name, "--rdzv-endpoint", "h1:2379,h2,[::1]:2381",
                          "--rdzv-id", "job9", "--num-nodes", "2:3", "tool"});
    EXPECT_TRUE(o.rdzv_etcd);
    EXPECT_THAT(o.etcd_endpoints, ElementsAre("h1:2379", "h2:2379", "[::1]:2381"));
    EXPECT_EQ(o.run_id, "job9");
    EXPECT_TRUE(IsMultiNode(o));
    EXPECT_EQ(o.rdzv_grace, absl::Seconds(60));
  }
  // One node on etcd still uses etcd (the loopback rule of fabric-run's own is not applied).
  LaunchOptions one = Ok({"--rdzv-backend", "etcd", "--rdzv-endpoint", "127.0.0.1:2379",
                          "--rdzv-id", "j", "--rdzv-grace", "5s", "tool"});
  EXPECT_TRUE(IsMultiNode(one));
  EXPECT_EQ(one.rdzv_grace, absl::Seconds(5));
  LaunchOptions tls = Ok({"--rdzv-backend", "etcd", "--rdzv-endpoint", "h1:2379", "--rdzv-id", "j",
                          "--rdzv-conf", "protocol=https,cacert=/ca.pem,cert=/c.pem,key=/k.pem",
                          "--rdzv-tls-key", "/mine.pem", "tool"});
  EXPECT_EQ(tls.rdzv_tls_ca, "/ca.pem");
  EXPECT_EQ(tls.rdzv_tls_cert, "/c.pem");
  EXPECT_EQ(tls.rdzv_tls_key, "/mine.pem");  // fabric-run's own flag wins
  EXPECT_FALSE(Ok({"--rdzv-backend", "c10d", "tool"}).rdzv_etcd);
}

TEST_F(CliTest, EtcdBackendWithoutMembersOrRunIdIsOneLineNamingTheFix) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--rdzv-backend", "etcd", "--rdzv-id", "j", "tool"}, "needs --rdzv-endpoint"},
      {{"--rdzv-backend", "etcd", "--rdzv-endpoint", "h1:2379", "tool"}, "needs --rdzv-id"},
      {{"--rdzv-backend", "etcd", "--rdzv-endpoint", "h1:0", "--rdzv-id", "j", "tool"}, "port 0"},
      {{"--rdzv-backend", "etcd", "--rdzv-endpoint", ",", "--rdzv-id", "j", "tool"},
       "names no etcd member"},
      {{"--rdzv-backend", "etcd", "--rdzv-endpoint", "h:1", "--rdzv-id", "j", "--rdzv-conf",
        "protocol=gopher", "tool"},
       "use http or https"},
      {{"--rdzv-conf", "cacert=/x", "tool"}, "--rdzv-tls-ca"},
      {{"--rdzv-backend", "etcd", "--rdzv-endpoint", "h:1", "--rdzv-id", "j", "--rdzv-grace",
        "soon", "tool"},
       "--rdzv-grace"},
  };
  for (const auto& [args, why] : cases) {
    SCOPED_TRACE(why);
    EXPECT_THAT(Parse(args), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(why)));
  }
}

TEST_F(CliTest, TorchrunModuleAndNoPython) {
  const std::string script = root_ + "/script.py";
  EXPECT_THAT(Ok({"-m", "pkg.train", "--lr", "1"}).exec_argv,
              ElementsAre(bin_ + "/python3", "-m", "pkg.train", "--lr", "1"));
  EXPECT_THAT(Ok({"--module", "pkg.train"}).exec_argv,
              ElementsAre(bin_ + "/python3", "-m", "pkg.train"));
  Touch(root_ + "/exe.py", 0755);
  EXPECT_THAT(Ok({"--no-python", root_ + "/exe.py"}).exec_argv, ElementsAre(root_ + "/exe.py"));
  EXPECT_THAT(Parse({"-m", "--no-python", "x"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("give one of them")));
}

TEST_F(CliTest, TorchrunRedirectsHideRanksFromTheConsoleAndNeedALogDir) {
  EXPECT_THAT(Parse({"-r", "3", "tool"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--log-dir")));
  LaunchOptions all = Ok({"--devices", "2", "-r3", "--log-dir", root_, "tool"});
  ASSERT_TRUE(all.console.local_ranks.has_value());
  EXPECT_TRUE(all.console.local_ranks->empty());
  LaunchOptions one = Ok({"--devices", "2", "--redirects", "0:3", "--log-dir", root_, "tool"});
  EXPECT_THAT(*one.console.local_ranks, ElementsAre(1));
  LaunchOptions teed = Ok({"--devices", "2", "-r", "3", "-t", "3", "--log-dir", root_, "tool"});
  EXPECT_FALSE(teed.console.local_ranks.has_value());  // tee: console and files
}

TEST_F(CliTest, NumaBindingTakesTorchrunsModesInBothSpellingsAndFromTheEnvironment) {
  EXPECT_EQ(Ok({"--numa-binding", "node", "tool"}).numa_binding, "node");
  EXPECT_EQ(Ok({"--numa_binding=core-complex", "tool"}).numa_binding, "core-complex");
  EXPECT_EQ(Ok({"tool"}).numa_binding, "");  // off by default
  env_["FABRIC_NUMA_BINDING"] = "exclusive";
  EXPECT_EQ(Ok({"tool"}).numa_binding, "exclusive");
  EXPECT_EQ(Ok({"--numa-binding", "socket", "tool"}).numa_binding, "socket");  // the flag wins
}

TEST_F(CliTest, PreloadListsModulesForAPythonProgramFromTheFlagOrTheEnvironment) {
  const std::string py = bin_ + "/python3";
  EXPECT_THAT(
      Ok({"--preload", "torch, numpy.linalg", "--python", py, root_ + "/script.py"}).preload,
      ElementsAre("torch", "numpy.linalg"));
  EXPECT_THAT(Ok({"--python", py, "-m", "pkg.train"}).preload, ElementsAre());  // off by default
  env_["FABRIC_PRELOAD"] = "torch";
  EXPECT_THAT(Ok({"--python", py, "-m", "pkg.train"}).preload, ElementsAre("torch"));
  EXPECT_THAT(Ok({"python3", root_ + "/script.py"}).preload,
              ElementsAre("torch"));  // an interpreter
}

TEST_F(CliTest, PreloadRefusesBadModuleNamesAndNativePrograms) {
  EXPECT_THAT(Parse({"--preload", "torch,,numpy", "--python", bin_ + "/python3", "script.py"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--preload: 'torch,,numpy' is not a list of Python modules; use "
                                 "names such as torch,numpy")));
  EXPECT_FALSE(Parse({"--preload", "a-b", "--python", bin_ + "/python3", "script.py"}).ok());
  EXPECT_FALSE(Parse({"--preload", "1x", "--python", bin_ + "/python3", "script.py"}).ok());
  EXPECT_THAT(Parse({"--preload", "torch", "tool"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("' is not a Python program; --preload needs a .py script")));
  env_["FABRIC_PRELOAD"] = "torch";  // the environment's applies to Python programs only
  EXPECT_THAT(Ok({"tool"}).preload, ElementsAre());
}

TEST_F(CliTest, NumaBindingWithAnUnknownModeNamesItAndTheModes) {
  EXPECT_THAT(Parse({"--numa-binding", "nodes", "tool"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--numa-binding: 'nodes' is not a NUMA binding mode; use node, "
                                 "socket, exclusive or core-complex")));
}

TEST_F(CliTest, TorchrunFlagsFabricRunCannotHonourAreRefusedWithTheReason) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--run-path", "tool"}, "drop --run-path"},
      {{"--rdzv-backend", "zookeeper", "tool"}, "use c10d, static or etcd"},
      {{"--rdzv-conf", "bogus=1", "tool"}, "unknown key 'bogus'"},
      {{"--event-log-handler", "console", "tool"}, "use null"},
      {{"--duplicate-stdout-filters", "a,b", "tool"}, "grep"},
      {{"--logs-specs", "x", "tool"}, "--log-dir"},
      {{"--local-addr", "10.0.0.2", "tool"}, "drop it"},
      {{"--signals-to-handle", "SIGSEGV", "tool"}, "does not relay"},
      {{"--start-method", "thread", "tool"}, "spawn, fork or forkserver"},
  };
  for (const auto& [args, why] : cases) {
    SCOPED_TRACE(args[0]);
    EXPECT_THAT(Parse(args), StatusIs(absl::StatusCode::kInvalidArgument,
                                      AllOf(HasSubstr(args[0]), HasSubstr(why))));
  }
}

TEST_F(CliTest, PetVariablesAreTorchrunsAndLoseToFabricVariablesAndFlags) {
  env_["PET_NPROC_PER_NODE"] = "3";
  env_["PET_MAX_RESTARTS"] = "2";
  env_["PET_ROLE"] = "pet";
  LaunchOptions pet = Ok({"tool"});
  EXPECT_EQ(pet.devices, 3);
  EXPECT_EQ(pet.max_restarts, 2);
  EXPECT_EQ(pet.role, "pet");
  EXPECT_EQ(pet.sources.at("devices"), "PET_NPROC_PER_NODE");
  env_["FABRIC_DEVICES"] = "2";
  EXPECT_EQ(Ok({"tool"}).devices, 2);                           // FABRIC_ beats PET_
  EXPECT_EQ(Ok({"--nproc-per-node", "1", "tool"}).devices, 1);  // the command line beats both
}

// A Kubeflow PyTorchJob pod: the operator's MASTER_ADDR/MASTER_PORT fill in the
// rendezvous address below every other source; its RANK and WORLD_SIZE are not read.
TEST_F(CliTest, KubernetesPodSettingsComeBelowFlagsFabricAndPetVariables) {
  env_["MASTER_ADDR"] = "job-master-0";
  env_["MASTER_PORT"] = "23456";
  env_["RANK"] = "1";
  env_["WORLD_SIZE"] = "8";
  env_["PET_NNODES"] = "2";
  env_["PET_NODE_RANK"] = "1";
  env_["PET_NPROC_PER_NODE"] = "4";
  // Outside a pod (no KUBERNETES_SERVICE_HOST): torchrun's rule, MASTER_* are not read.
  LaunchOptions outside = Ok({"tool"});
  EXPECT_EQ(outside.main_address, "127.0.0.1");
  EXPECT_EQ(outside.grace_period, absl::Seconds(30));
  env_["KUBERNETES_SERVICE_HOST"] = "10.96.0.1";
  LaunchOptions pod = Ok({"tool"});
  EXPECT_EQ(pod.main_address, "job-master-0");
  EXPECT_EQ(pod.main_port, 23456);
  EXPECT_EQ(pod.sources.at("main-address"), "Kubernetes MASTER_ADDR");
  EXPECT_EQ(pod.sources.at("main-port"), "Kubernetes MASTER_PORT");
  EXPECT_EQ(pod.node_rank, 1);
  EXPECT_EQ(pod.min_nodes, 2);
  EXPECT_EQ(pod.devices, 4);
  EXPECT_EQ(pod.grace_period, absl::Seconds(20));  // inside the pod's 30 s
  EXPECT_EQ(pod.sources.at("grace-period"), "Kubernetes pod");
  EXPECT_EQ(Ok({"--master-addr", "n0", "tool"}).main_address, "n0");
  EXPECT_EQ(Ok({"--grace-period", "5s", "tool"}).grace_period, absl::Seconds(5));
  env_["PET_MASTER_ADDR"] = "pet-host";
  EXPECT_EQ(Ok({"tool"}).main_address, "pet-host");
  env_.erase("PET_MASTER_ADDR");
  // An elastic PyTorchJob names the rendezvous with PET_RDZV_ENDPOINT: MASTER_* stay out.
  env_["PET_RDZV_ENDPOINT"] = "job-worker-0:29400";
  LaunchOptions elastic = Ok({"tool"});
  EXPECT_EQ(elastic.rdzv_endpoint, "job-worker-0:29400");
  EXPECT_EQ(elastic.sources.count("main-address"), 0u);
}

// A Kubeflow Trainer TrainJob (JobSet) pod: PET_* as torchrun reads them, and the
// Indexed Job's JOB_COMPLETION_INDEX as the node rank when PET_NODE_RANK is absent.
TEST_F(CliTest, KubernetesIndexedJobPodTakesItsNodeRankFromTheCompletionIndex) {
  env_["KUBERNETES_SERVICE_HOST"] = "10.96.0.1";
  env_["PET_MASTER_ADDR"] = "train-node-0-0.train";
  env_["PET_MASTER_PORT"] = "29400";
  env_["PET_NNODES"] = "3";
  env_["JOB_COMPLETION_INDEX"] = "2";
  LaunchOptions o = Ok({"tool"});
  EXPECT_EQ(o.node_rank, 2);
  EXPECT_EQ(o.sources.at("node-rank"), "Kubernetes JOB_COMPLETION_INDEX");
  EXPECT_EQ(o.main_address, "train-node-0-0.train");
  env_["PET_NODE_RANK"] = "0";
  EXPECT_EQ(Ok({"tool"}).node_rank, 0);
  env_.erase("PET_NODE_RANK");
  env_["JOB_COMPLETION_INDEX"] = "3";  // beyond 3 nodes: named in the error
  EXPECT_THAT(Parse({"tool"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("JOB_COMPLETION_INDEX")));
  env_.erase("PET_NNODES");  // one node: the index is not a node rank
  EXPECT_FALSE(Ok({"tool"}).node_rank.has_value());
}

// --standalone overrides what torchrun's does (rdzv backend, endpoint, id) and, since one
// node needs no rendezvous, the node count, rank and rendezvous address: a one-node
// plan, with one warning naming each override. Without it the same flags are multi-node.
TEST_F(CliTest, StandaloneOverridesTheRendezvousAndNodeFlags) {
  const std::vector<std::string> multi = {
      "--rdzv-endpoint", "node0:29400", "--nnodes",  "2",    "--node-rank",   "1",
      "--rdzv-backend",  "c10d",        "--rdzv-id", "job7", "--master-addr", "node0",
      "--master-port",   "1234"};
  std::vector<std::string> without = multi;
  without.push_back("tool");
  FABRIC_ASSERT_OK_AND_ASSIGN(CliResult control, Parse(without));  // negative control
  EXPECT_TRUE(IsMultiNode(control.options));
  EXPECT_EQ(control.options.max_nodes, 2);
  EXPECT_THAT(control.warnings, ::testing::IsEmpty());

  std::vector<std::string> with = {"--standalone"};
  with.insert(with.end(), multi.begin(), multi.end());
  with.push_back("tool");
  FABRIC_ASSERT_OK_AND_ASSIGN(CliResult r, Parse(with));
  const LaunchOptions& o = r.options;
  EXPECT_TRUE(o.standalone);
  EXPECT_FALSE(IsMultiNode(o));
  EXPECT_EQ(o.min_nodes, 1);
  EXPECT_EQ(o.max_nodes, 1);
  EXPECT_FALSE(o.node_rank.value_or(0) != 0);
  EXPECT_TRUE(o.rdzv_endpoint.empty());
  EXPECT_EQ(o.main_address, "127.0.0.1");
  EXPECT_FALSE(o.main_address_set);
  EXPECT_FALSE(o.main_port_set);
  EXPECT_FALSE(o.run_id_set);
  EXPECT_NE(o.run_id, "job7");
  EXPECT_EQ(o.sources.count("rdzv-endpoint"), 0);
  ASSERT_EQ(r.warnings.size(), 1);
  for (const char* s :
       {"--standalone overrides", "--rdzv-endpoint node0:29400", "--nnodes 2", "--node-rank 1",
        "--rdzv-backend c10d", "--rdzv-id job7", "--master-addr node0", "--master-port 1234"}) {
    EXPECT_THAT(r.warnings[0], HasSubstr(s));
  }
  EXPECT_THAT(r.warnings[0], Not(HasSubstr("\n")));

  // Alone, or with nothing it overrides: no warning. From the environment too.
  FABRIC_ASSERT_OK_AND_ASSIGN(CliResult plain, Parse({"--standalone", "--devices", "2", "tool"}));
  EXPECT_THAT(plain.warnings, ::testing::IsEmpty());
  EXPECT_FALSE(IsMultiNode(plain.options));
  env_["PET_STANDALONE"] = "1";
  env_["PET_NNODES"] = "3";
  FABRIC_ASSERT_OK_AND_ASSIGN(CliResult from_env, Parse({"tool"}));
  EXPECT_EQ(from_env.options.max_nodes, 1);
  ASSERT_EQ(from_env.warnings.size(), 1);
  EXPECT_THAT(from_env.warnings[0], HasSubstr("PET_NNODES 3"));
  // --standalone=false leaves them alone.
  env_.erase("PET_STANDALONE");
  std::vector<std::string> off = {"--standalone=false"};
  off.insert(off.end(), without.begin(), without.end());
  FABRIC_ASSERT_OK_AND_ASSIGN(CliResult not_standalone, Parse(off));
  EXPECT_TRUE(IsMultiNode(not_standalone.options));
}

TEST_F(CliTest, InstalledAsTorchrunKeepsTorchrunsDefaults) {
  EXPECT_EQ(PersonalityFor("/usr/local/bin/torchrun"), Personality::kTorchrun);
  EXPECT_EQ(PersonalityFor("torchrun"), Personality::kTorchrun);
  EXPECT_EQ(PersonalityFor("/opt/fabric-run"), Personality::kFabricRun);
  EXPECT_EQ(PersonalityFor("/opt/torchrun-old"), Personality::kFabricRun);
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(::chdir(root_.c_str()), 0);  // torchrun's scripts are paths: ./local, ./script.py
  auto parse = [&](std::vector<std::string> args) {
    return ParseCommandLine(args, env_, machine_, Personality::kTorchrun);
  };
  FABRIC_ASSERT_OK_AND_ASSIGN(CliResult r, parse({"--nproc-per-node", "2", "local"}));
  EXPECT_EQ(r.options.main_port, 29500);  // torchrun's --master-port default
  EXPECT_EQ(r.options.devices, 2);
  // torchrun runs every program under python -u, unless --no-python.
  EXPECT_THAT(r.options.exec_argv, ElementsAre(bin_ + "/python3", "-u", "local"));
  FABRIC_ASSERT_OK_AND_ASSIGN(CliResult py, parse({"script.py", "--lr", "1"}));
  EXPECT_THAT(py.options.exec_argv, ElementsAre(bin_ + "/python3", "-u", "script.py", "--lr", "1"));
  FABRIC_ASSERT_OK_AND_ASSIGN(CliResult mod, parse({"-m", "pkg.train"}));
  EXPECT_THAT(mod.options.exec_argv, ElementsAre(bin_ + "/python3", "-u", "-m", "pkg.train"));
  FABRIC_ASSERT_OK_AND_ASSIGN(CliResult native, parse({"--no-python", "tool"}));
  EXPECT_THAT(native.options.exec_argv, ElementsAre(bin_ + "/tool"));
  EXPECT_THAT(parse({"missing_script"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not exist")));
  FABRIC_ASSERT_OK_AND_ASSIGN(CliResult given, parse({"--master-port", "1234", "local"}));
  EXPECT_EQ(given.options.main_port, 1234);
  FABRIC_ASSERT_OK_AND_ASSIGN(CliResult v, parse({"--version"}));
  EXPECT_EQ(v.text, "fabric-run 0.1.0 (installed as torchrun)");
  FABRIC_ASSERT_OK_AND_ASSIGN(CliResult h, parse({"--help"}));
  EXPECT_THAT(h.text, HasSubstr("fabric-run installed as torchrun"));
  EXPECT_EQ(Ok({"tool"}).main_port, 29400);  // negative control: fabric-run's own default
  EXPECT_THAT(Ok({"./local"}).exec_argv, ElementsAre("./local"));  // native as fabric-run
  ASSERT_EQ(::chdir(cwd), 0);
}

// Command lines from well-known projects' READMEs and scripts, with torchrun's meaning.
TEST_F(CliTest, TorchrunEndpointsOfOneNodeNeedNoRendezvous) {
  // torchtitan's run_train.sh: any port on localhost, one node.
  LaunchOptions titan =
      Ok({"--nproc_per_node=8", "--rdzv_backend", "c10d", "--rdzv_endpoint=localhost:0",
          "--local-ranks-filter", "0", "--role", "rank", "--tee", "3", "tool"});
  EXPECT_EQ(titan.rdzv_endpoint, "");
  EXPECT_EQ(titan.devices, 8);
  // PyTorch's elastic DDP example on one node.
  EXPECT_EQ(Ok({"--nnodes=1", "--nproc_per_node=4", "--rdzv_id=100", "--rdzv_backend=c10d",
                "--rdzv_endpoint=localhost:29400", "tool"})
                .rdzv_endpoint,
            "");
  // Several nodes keep the endpoint; a host without a port gets c10d's 29400.
  EXPECT_EQ(Ok({"--nnodes=2", "--rdzv_endpoint=node0", "tool"}).rdzv_endpoint, "node0:29400");
  EXPECT_EQ(Ok({"--nnodes=1:4", "--rdzv_endpoint=localhost:29400", "tool"}).rdzv_endpoint,
            "localhost:29400");
  EXPECT_EQ(Ok({"--nnodes=1", "--rdzv_endpoint=node0:29400", "tool"}).rdzv_endpoint,
            "node0:29400");  // maybe a fabric-rendezvous server elsewhere: kept
  EXPECT_THAT(Parse({"--nnodes=2", "--rdzv_endpoint=node0:0", "tool"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot know")));
}

// Found by parsers_fuzz_test: what the user typed is echoed, and must not break the line.
TEST_F(CliTest, ErrorsStayOneLineWhateverWasTyped) {
  absl::StatusOr<CliResult> r = Parse({"--devices", "2\nrm -rf /", "tool"});
  ASSERT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'2\\x0arm -rf /'")));
  EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr("\n")));
  EXPECT_THAT(Parse({"--d\x01"
                     "evices",
                     "tool"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--d\\x01evices")));
}

TEST_F(CliTest, SignalsToHandleIsPassedOnAsTorchrunDoes) {
  EXPECT_EQ(Ok({"tool"}).signals_to_handle, "SIGTERM,SIGINT,SIGHUP,SIGQUIT");
  EXPECT_EQ(Ok({"--signals-to-handle", "term,SIGUSR1", "tool"}).signals_to_handle,
            "SIGTERM,SIGUSR1");
}

TEST_F(CliTest, TorchrunSpellingOfNprocPerNodeHasTorchrunsMeaning) {
  machine_.cpus = 6;
  machine_.nvidia_gpus = 0;
  EXPECT_EQ(Ok({"--nproc-per-node", "cpu", "tool"}).devices, 6);
  EXPECT_EQ(Ok({"--nproc_per_node", "auto", "tool"}).devices, 6);  // no GPU: per CPU
  EXPECT_EQ(Ok({"--devices", "auto", "tool"}).devices, 1);         // Lightning's auto
  machine_.nvidia_gpus = 4;
  LaunchOptions gpu = Ok({"--nproc-per-node", "gpu", "tool"});
  EXPECT_EQ(gpu.devices, 4);
  EXPECT_EQ(gpu.accelerator, "cuda");
}

TEST_F(CliTest, DefaultPythonIsPython3FromPath) {
  // As torchrun's sys.executable would be: the python3 of the activated environment.
  const std::string script = root_ + "/script.py";
  EXPECT_THAT(Ok({script}).exec_argv, ElementsAre(bin_ + "/python3", script));
}

TEST_F(CliTest, MissingPythonNamesTheFlagOrVariable) {
  const std::string script = root_ + "/script.py";
  EXPECT_THAT(Parse({"--python", "python9", script}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--python"), HasSubstr("python9"))));
  env_["FABRIC_PYTHON"] = root_ + "/nope";
  EXPECT_THAT(Parse({script}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("FABRIC_PYTHON")));
}

TEST_F(CliTest, ProgramArgumentsPassUntouched) {
  LaunchOptions o = Ok({"--devices", "2", "tool", "--devices", "9", "--", "--help", "x=y"});
  EXPECT_EQ(o.devices, 2);
  EXPECT_THAT(o.program_argv, ElementsAre("tool", "--devices", "9", "--", "--help", "x=y"));
  EXPECT_THAT(o.exec_argv, ElementsAre(bin_ + "/tool", "--devices", "9", "--", "--help", "x=y"));
}

TEST_F(CliTest, DoubleDashEndsOurFlags) {
  LaunchOptions o = Ok({"--quiet", "--", "tool", "--version"});
  EXPECT_TRUE(o.console.quiet);
  EXPECT_THAT(o.program_argv, ElementsAre("tool", "--version"));
}

TEST_F(CliTest, EnvironmentSetsFlags) {
  env_["FABRIC_DEVICES"] = "3";
  env_["FABRIC_NUM_NODES"] = "2:4";
  env_["FABRIC_MAX_RESTARTS"] = "5";
  env_["FABRIC_GRACE_PERIOD"] = "1500ms";
  env_["FABRIC_MAIN_PORT"] = "4000";
  env_["FABRIC_STANDALONE"] = "0";
  env_["FABRIC_PRECISION"] = "bf16";
  env_["FABRIC_CONSOLE_RANKS"] = "0";
  env_["FABRIC_RUN_ID"] = "envjob";
  LaunchOptions o = Ok({"tool"});
  EXPECT_EQ(o.devices, 3);
  EXPECT_EQ(o.min_nodes, 2);
  EXPECT_EQ(o.max_nodes, 4);
  EXPECT_EQ(o.max_restarts, 5);
  EXPECT_EQ(o.grace_period, absl::Milliseconds(1500));
  EXPECT_EQ(o.main_port, 4000);
  EXPECT_TRUE(o.main_port_set);
  EXPECT_FALSE(o.standalone);
  EXPECT_EQ(o.precision, "bf16-mixed");
  EXPECT_THAT(o.console.ranks, ElementsAre(0));
  EXPECT_EQ(o.run_id, "envjob");
}

TEST_F(CliTest, CommandLineBeatsEnvironment) {
  env_["FABRIC_DEVICES"] = "3";
  env_["FABRIC_MAX_RESTARTS"] = "bogus";  // overridden, so never parsed
  env_["FABRIC_QUIET"] = "true";
  LaunchOptions o =
      Ok({"--nproc_per_node=2", "--max-restarts", "1", "--console-ranks", "1", "tool"});
  EXPECT_EQ(o.devices, 2);
  EXPECT_EQ(o.max_restarts, 1);
  EXPECT_FALSE(o.console.quiet);
  EXPECT_THAT(o.console.ranks, ElementsAre(1));
}

TEST_F(CliTest, EmptyEnvironmentVariableIsUnset) {
  env_["FABRIC_DEVICES"] = "";
  EXPECT_EQ(Ok({"tool"}).devices, 1);
}

TEST_F(CliTest, BadEnvironmentValueNamesTheVariable) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"FABRIC_DEVICES", "abc"},
      {"FABRIC_NUM_NODES", "0"},
      {"FABRIC_MAX_RESTARTS", "-3"},
      {"FABRIC_GRACE_PERIOD", "later"},
      {"FABRIC_MAIN_PORT", "70000"},
      {"FABRIC_STANDALONE", "perhaps"},
      {"FABRIC_RDZV_ENDPOINT", "nohost:x"},
      {"FABRIC_ACCELERATOR", "mps"},
      {"FABRIC_NODE_RANK", "4"},
      {"FABRIC_JOIN_TIMEOUT", "0"},
  };
  for (const auto& [var, value] : cases) {
    SCOPED_TRACE(var);
    EnvMap env = env_;
    env[var] = value;
    EXPECT_THAT(ParseCommandLine({"tool"}, env), StatusIs(absl::StatusCode::kInvalidArgument,
                                                          AllOf(HasSubstr(var), HasSubstr(value))));
  }
}

TEST_F(CliTest, GeneratedRunIdOnOneNodeIsUnique) {
  LaunchOptions o = Ok({"tool"});
  EXPECT_THAT(o.run_id, MatchesRegex(absl::StrCat("fabric-", ::getpid(), "-[0-9a-f]+")));
}

TEST_F(CliTest, GeneratedRunIdAgreesAcrossNodes) {
  std::vector<std::string> node0 = {"--num-nodes",    "2",        "--node-rank", "0",
                                    "--main-address", "10.0.0.1", "tool"};
  std::vector<std::string> node1 = node0;
  node1[3] = "1";
  const std::string id0 = Ok(node0).run_id;
  EXPECT_THAT(id0, MatchesRegex("fabric-[0-9a-f]+"));
  EXPECT_EQ(id0, Ok(node1).run_id);
  EXPECT_NE(id0, Ok({"--num-nodes", "2", "--main-address", "10.0.0.2", "tool"}).run_id);
}

TEST_F(CliTest, GeneratedRunIdUnderSlurmUsesJobAndStep) {
  env_["SLURM_JOB_ID"] = "4242";
  env_["SLURM_STEP_ID"] = "3";
  EXPECT_EQ(Ok({"tool"}).run_id, "slurm-4242.3");  // common/run_id.h: the plan's form
}

// The help says what a flag does where it does nothing: the rendezvous flags on one node,
// --standalone's overrides.
TEST_F(CliTest, HelpSaysWhatOneNodeIgnoresAndWhatStandaloneOverrides) {
  FABRIC_ASSERT_OK_AND_ASSIGN(CliResult r, Parse({"--help"}));
  std::string help = r.text;
  absl::StrReplaceAll({{"\n      ", " "}}, &help);
  for (const char* s : {"no rendezvous and its workers' MASTER_ADDR is 127.0.0.1",
                        "MASTER_PORT is always a port fabric-run verified free",
                        "overrides --num-nodes, --node-rank, --main-address, --main-port, "
                        "--rdzv-endpoint, --rdzv-backend and --rdzv-id/--run-id",
                        "the files need --log-dir"}) {
    EXPECT_THAT(help, HasSubstr(s));
  }
}

TEST_F(CliTest, HelpListsEveryFlagWithItsVariable) {
  FABRIC_ASSERT_OK_AND_ASSIGN(CliResult r, Parse({"--devices", "bad", "--help"}));
  EXPECT_EQ(r.action, CliResult::Action::kHelp);
  for (const char* flag : {"accelerator",
                           "strategy",
                           "devices",
                           "num-nodes",
                           "node-rank",
                           "main-address",
                           "main-port",
                           "precision",
                           "max-restarts",
                           "run-id",
                           "grace-period",
                           "log-dir",
                           "console-ranks",
                           "quiet",
                           "python",
                           "standalone",
                           "rdzv-endpoint",
                           "join-timeout",
                           "last-call-timeout",
                           "keepalive-timeout",
                           "requeue-on-signal",
                           "help",
                           "version"}) {
    EXPECT_THAT(r.text, HasSubstr(absl::StrCat("--", flag))) << flag;
  }
  for (const char* var :
       {"FABRIC_DEVICES", "FABRIC_NUM_NODES", "FABRIC_MAX_RESTARTS", "FABRIC_GRACE_PERIOD",
        "FABRIC_CONSOLE_RANKS", "FABRIC_KEEPALIVE_TIMEOUT"}) {
    EXPECT_THAT(r.text, HasSubstr(var));
  }
  EXPECT_THAT(r.text, HasSubstr("--nproc-per-node"));
  for (absl::string_view line : absl::StrSplit(r.text, '\n')) {
    EXPECT_LE(line.size(), 80u) << line;
  }
  FABRIC_ASSERT_OK_AND_ASSIGN(CliResult h, Parse({"-h"}));
  EXPECT_EQ(h.action, CliResult::Action::kHelp);
}

TEST_F(CliTest, Version) {
  FABRIC_ASSERT_OK_AND_ASSIGN(CliResult r, Parse({"--version"}));
  EXPECT_EQ(r.action, CliResult::Action::kVersion);
  EXPECT_EQ(r.text, "fabric-run 0.1.0");  // main() adds the newline
}

TEST_F(CliTest, HelpAfterProgramBelongsToTheProgram) {
  FABRIC_ASSERT_OK_AND_ASSIGN(CliResult r, Parse({"tool", "--help"}));
  EXPECT_EQ(r.action, CliResult::Action::kRun);
  EXPECT_THAT(r.options.program_argv, ElementsAre("tool", "--help"));
}

// The "given" bits: SLURM fills in only what the user did not give (slurm_launch.h).
TEST_F(CliTest, GivenBitsAreFalseByDefault) {
  LaunchOptions o = Ok({"tool"});
  EXPECT_FALSE(o.devices_set);
  EXPECT_FALSE(o.num_nodes_set);
  EXPECT_FALSE(o.main_address_set);
  EXPECT_FALSE(o.main_port_set);
  EXPECT_FALSE(o.run_id_set);
  EXPECT_FALSE(o.node_rank.has_value());
  EXPECT_EQ(o.requeue_signal, 0);
}

TEST_F(CliTest, DevicesCountOrListIsGivenAutoIsNot) {
  EXPECT_TRUE(Ok({"--devices", "2", "tool"}).devices_set);
  EXPECT_TRUE(Ok({"--nproc-per-node=3", "tool"}).devices_set);
  EXPECT_TRUE(Ok({"--accelerator", "cuda", "--devices", "0,1", "tool"}).devices_set);
  EXPECT_FALSE(Ok({"--devices", "auto", "tool"}).devices_set);
  EXPECT_FALSE(Ok({"--devices", "-1", "tool"}).devices_set);
  env_["CUDA_VISIBLE_DEVICES"] = "0,1";
  EXPECT_FALSE(Ok({"--accelerator", "cuda", "--devices", "auto", "tool"}).devices_set);
}

TEST_F(CliTest, DevicesFromEnvironmentIsGiven) {
  env_["FABRIC_DEVICES"] = "4";
  EXPECT_TRUE(Ok({"tool"}).devices_set);
  env_["FABRIC_DEVICES"] = "auto";
  EXPECT_FALSE(Ok({"tool"}).devices_set);
}

TEST_F(CliTest, NumNodesIsGivenUnlessAnOpenRange) {
  EXPECT_TRUE(Ok({"--num-nodes", "2", "tool"}).num_nodes_set);
  EXPECT_TRUE(Ok({"--nnodes", "3:3", "tool"}).num_nodes_set);
  EXPECT_FALSE(Ok({"--num-nodes", "1:4", "tool"}).num_nodes_set);
  env_["FABRIC_NUM_NODES"] = "2";
  EXPECT_TRUE(Ok({"tool"}).num_nodes_set);
  env_["FABRIC_NUM_NODES"] = "2:3";
  EXPECT_FALSE(Ok({"tool"}).num_nodes_set);
}

TEST_F(CliTest, MainAddressAndRunIdAreGivenFromFlagOrEnvironment) {
  LaunchOptions o = Ok({"--main-address", "n7", "--run-id", "r1", "tool"});
  EXPECT_TRUE(o.main_address_set);
  EXPECT_TRUE(o.run_id_set);
  env_["FABRIC_MAIN_ADDRESS"] = "n8";
  env_["FABRIC_RUN_ID"] = "r2";
  o = Ok({"tool"});
  EXPECT_TRUE(o.main_address_set);
  EXPECT_EQ(o.main_address, "n8");
  EXPECT_TRUE(o.run_id_set);
  env_.erase("FABRIC_RUN_ID");
  env_["SLURM_JOB_ID"] = "9";
  EXPECT_FALSE(Ok({"tool"}).run_id_set);  // generated, not given
}

TEST_F(CliTest, RequeueOnSignalTakesUsr1OrUsr2) {
  EXPECT_EQ(Ok({"--requeue-on-signal", "USR1", "tool"}).requeue_signal, SIGUSR1);
  EXPECT_EQ(Ok({"--requeue-on-signal=sigusr2", "tool"}).requeue_signal, SIGUSR2);
  EXPECT_EQ(Ok({"--requeue_on_signal", "none", "tool"}).requeue_signal, 0);
  env_["FABRIC_REQUEUE_ON_SIGNAL"] = "SIGUSR1";
  EXPECT_EQ(Ok({"tool"}).requeue_signal, SIGUSR1);
  EXPECT_THAT(Parse({"--requeue-on-signal", "TERM", "tool"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--requeue-on-signal: 'TERM' is not a requeue signal; use "
                                 "USR1 or USR2")));
  env_["FABRIC_REQUEUE_ON_SIGNAL"] = "9";
  EXPECT_THAT(Parse({"tool"}), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("FABRIC_REQUEUE_ON_SIGNAL: '9'")));
}

}  // namespace
}  // namespace fabric::launcher
