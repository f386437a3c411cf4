#include "launcher/install_paths.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::HasSubstr;

class InstallPathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fabric-install-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    ASSERT_EQ(mkdir((root_ + "/bin").c_str(), 0755), 0);
    exe_ = root_ + "/bin/fabric-run";
    Write(exe_, "#!/bin/sh\n", 0755);
  }
  void TearDown() override { system(("rm -rf " + root_).c_str()); }
  static void Write(const std::string& path, const std::string& text, mode_t mode) {
    std::ofstream(path) << text;
    chmod(path.c_str(), mode);
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string root_, exe_;
};

TEST_F(InstallPathsTest, VenvPythonOnlyInsideAnEnvironment) {
  EXPECT_EQ(VenvPythonBeside(exe_), "");  // no pyvenv.cfg, no python3
  Write(root_ + "/bin/python3", "#!/bin/sh\n", 0755);
  EXPECT_EQ(VenvPythonBeside(exe_), "");  // a python3, but no environment
  Write(root_ + "/pyvenv.cfg", "home = /usr/bin\n", 0644);
  EXPECT_EQ(VenvPythonBeside(exe_), root_ + "/bin/python3");
  chmod((root_ + "/bin/python3").c_str(), 0644);
  EXPECT_EQ(VenvPythonBeside(exe_), "");  // not executable
  EXPECT_EQ(VenvPythonBeside(""), "");
}

TEST_F(InstallPathsTest, InstallTorchrunKeepsTorchsAndUndoPutsItBack) {
  const std::string torchrun = root_ + "/bin/torchrun";
  Write(torchrun, "torch's script\n", 0755);
  FABRIC_ASSERT_OK_AND_ASSIGN(std::string said, InstallTorchrun(exe_, false));
  EXPECT_THAT(said, HasSubstr("now runs fabric-run"));
  char buf[4096];
  ssize_t n = readlink(torchrun.c_str(), buf, sizeof(buf));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, n), exe_);
  EXPECT_EQ(Read(torchrun + ".torch"), "torch's script\n");
  FABRIC_ASSERT_OK_AND_ASSIGN(said, InstallTorchrun(exe_, false));  // twice: no change
  EXPECT_THAT(said, HasSubstr("already runs fabric-run"));
  FABRIC_ASSERT_OK_AND_ASSIGN(said, InstallTorchrun(exe_, true));
  EXPECT_THAT(said, HasSubstr("torch's again"));
  EXPECT_EQ(Read(torchrun), "torch's script\n");
  EXPECT_NE(access((torchrun + ".torch").c_str(), F_OK), 0);
  // Undo when torchrun is torch's: refused, nothing touched.
  EXPECT_THAT(InstallTorchrun(exe_, true),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is not fabric-run's")));
  EXPECT_EQ(Read(torchrun), "torch's script\n");
}

TEST_F(InstallPathsTest, InstallTorchrunRefusesToOverwriteASavedCopy) {
  Write(root_ + "/bin/torchrun", "new\n", 0755);
  Write(root_ + "/bin/torchrun.torch", "old\n", 0755);
  EXPECT_THAT(InstallTorchrun(exe_, false),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("exists already")));
  EXPECT_EQ(Read(root_ + "/bin/torchrun"), "new\n");
}

}  // namespace
}  // namespace fabric::launcher
