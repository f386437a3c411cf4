#include "runtime/runtime_env.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace fabric::runtime {
namespace {

TEST(RuntimeEnvTest, FromMapPicksTheIoVariables) {
  RuntimeEnv env = RuntimeEnv::FromMap({{"FABRIC_HEARTBEAT_FILE", "/tmp/hb"},
                                        {"FABRIC_CONTROL_FIFO", "/tmp/ctl"},
                                        {"FABRIC_SPARE_FIFO", "/tmp/spare"},
                                        {"GLOO_SOCKET_IFNAME", "eth1"},
                                        {"RANK", "2"}});
  EXPECT_EQ(env.heartbeat_file, "/tmp/hb");
  EXPECT_EQ(env.control_fifo, "/tmp/ctl");
  EXPECT_EQ(env.spare_fifo, "/tmp/spare");
  EXPECT_EQ(env.gloo_interface, "eth1");
  EXPECT_EQ(env.vars.at("RANK"), "2");
}

TEST(RuntimeEnvTest, UnsetVariablesAreEmpty) {
  RuntimeEnv env = RuntimeEnv::FromMap({});
  EXPECT_EQ(env.heartbeat_file, "");
  EXPECT_EQ(env.control_fifo, "");
  EXPECT_EQ(env.spare_fifo, "");
  EXPECT_EQ(env.gloo_interface, "");
}

TEST(RuntimeEnvTest, ReadProcessEnvSeesTheEnvironment) {
  setenv("FABRIC_RUNTIME_ENV_TEST", "a=b", 1);
  EXPECT_EQ(ReadProcessEnv().at("FABRIC_RUNTIME_ENV_TEST"), "a=b");
}

}  // namespace
}  // namespace fabric::runtime
