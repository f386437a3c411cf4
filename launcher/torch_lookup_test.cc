#include "launcher/torch_lookup.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Runfile(const std::string& path) {
  const char* srcdir = getenv("TEST_SRCDIR");
  return absl::StrCat(srcdir ? srcdir : ".", "/fabric_run/", path);
}

TEST(TorchLookupTest, ParsesTheLoadersListAndTheProbe) {
  const char* list =
      "\tlinux-vdso.so.1 (0x00007ffd)\n"
      "\tlibtorch_cpu.so => not found\n"
      "\tlibc10.so => not found\n"
      "\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f)\n";
  EXPECT_THAT(MissingLibraries(list), ElementsAre("libtorch_cpu.so", "libc10.so"));
  EXPECT_TRUE(MissingLibTorch(MissingLibraries(list)));
  EXPECT_FALSE(MissingLibTorch({"libfoo.so.1"}));  // another library: not ours to find
  EXPECT_TRUE(MissingLibraries("\tlibm.so.6 => /lib/libm.so.6 (0x1)\n").empty());
  FABRIC_ASSERT_OK_AND_ASSIGN(TorchProbe p, ParseTorchProbe("version=2.11.0+cu130\nlib=/x/lib\n"));
  EXPECT_EQ(p.version, "2.11.0+cu130");
  EXPECT_EQ(p.lib_dir, "/x/lib");
  FABRIC_ASSERT_OK_AND_ASSIGN(p, ParseTorchProbe("error=ModuleNotFoundError: no torch\n"));
  EXPECT_EQ(p.error, "ModuleNotFoundError: no torch");
  EXPECT_FALSE(ParseTorchProbe("garbage").ok());
}

TEST(TorchLookupTest, ElfDepsOfDynamicAndScripts) {
  FABRIC_ASSERT_OK_AND_ASSIGN(ElfDeps sh, ReadElfDeps("/bin/sh"));
  EXPECT_THAT(sh.interpreter, HasSubstr("ld-linux"));
  EXPECT_THAT(sh.needed, ::testing::Contains("libc.so.6"));
  EXPECT_FALSE(MissingLibTorch(sh.needed));
  FABRIC_ASSERT_OK_AND_ASSIGN(ElfDeps worker, ReadElfDeps(Runfile("tests/runtime/worker")));
  EXPECT_THAT(worker.needed, ::testing::Contains("libtorch_cpu.so"));
  EXPECT_TRUE(MissingLibTorch(worker.needed));
  char tmpl[] = "/tmp/fabric-elf-XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "#!/bin/sh\n", 10), 10);
  close(fd);
  FABRIC_ASSERT_OK_AND_ASSIGN(ElfDeps script, ReadElfDeps(tmpl));
  EXPECT_EQ(script.interpreter, "");
  EXPECT_TRUE(script.needed.empty());
  unlink(tmpl);
  EXPECT_FALSE(ReadElfDeps("/nonexistent/x").ok());
}

TEST(TorchLookupTest, AppendKeepsTheUsersPathFirst) {
  EnvMap env;
  AppendLibraryPath("/t/lib", &env);
  EXPECT_EQ(env["LD_LIBRARY_PATH"], "/t/lib");
  env["LD_LIBRARY_PATH"] = "/mine";
  AppendLibraryPath("/t/lib", &env);
  EXPECT_EQ(env["LD_LIBRARY_PATH"], "/mine:/t/lib");
}

// A real LibTorch binary copied and stripped of its RUNPATH (into .venv): the loader
// cannot find LibTorch, the Python with torch supplies it.
class TorchLibForTest : public ::testing::Test {
 protected:
  void SetUp() override {
    python_ = getenv("FABRIC_VENV_PYTHON") ? getenv("FABRIC_VENV_PYTHON") : "";
    ASSERT_FALSE(python_.empty());
    char tmpl[] = "/tmp/fabric-torchlib-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    bare_ = dir_ + "/worker";
    ASSERT_EQ(system(absl::StrCat("cp ", Runfile("tests/runtime/worker"), " ", bare_,
                                  " && chmod u+w ", bare_, " && patchelf --remove-rpath ", bare_)
                         .c_str()),
              0)
        << "patchelf (tools/setup.sh installs it)";
  }
  void TearDown() override { system(("rm -rf " + dir_).c_str()); }
  // A fake `python` answering the probe with `answer`.
  std::string FakePython(const std::string& answer) {
    std::string path = dir_ + "/python";
    std::ofstream(path) << "#!/bin/sh\nprintf '%s\\n' '" << answer << "'\n";
    chmod(path.c_str(), 0755);
    return path;
  }
  std::string python_, dir_, bare_;
};

TEST_F(TorchLibForTest, FindsTorchLibThroughPython) {
  absl::StatusOr<std::optional<std::string>> lib = TorchLibFor(bare_, python_);
  ASSERT_THAT(lib, IsOk());
  ASSERT_TRUE(lib->has_value());
  EXPECT_EQ(access((**lib + "/libtorch_cpu.so").c_str(), R_OK), 0) << **lib;
}

TEST_F(TorchLibForTest, NothingForABinaryThatFindsItOrAScript) {  // negative controls
  absl::StatusOr<std::optional<std::string>> own =
      TorchLibFor(Runfile("tests/runtime/worker"), "/nonexistent/python");  // its RUNPATH
  ASSERT_THAT(own, IsOk());
  EXPECT_FALSE(own->has_value());
  absl::StatusOr<std::optional<std::string>> sh = TorchLibFor("/bin/sh", "/nonexistent/python");
  ASSERT_THAT(sh, IsOk());
  EXPECT_FALSE(sh->has_value());
}

TEST_F(TorchLibForTest, NoTorchOrAnotherVersionIsOneLine) {
  EXPECT_THAT(TorchLibFor(bare_, FakePython("error=ModuleNotFoundError: No module named torch")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("links LibTorch"), HasSubstr("has no torch"),
                             HasSubstr("No module named torch"), HasSubstr("torch==2.11"))));
  EXPECT_THAT(TorchLibFor(bare_, FakePython("version=2.9.1\nlib=/old/torch/lib")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("has torch 2.9.1 (/old/torch/lib)"),
                             HasSubstr("needs torch 2.11"))));
  EXPECT_THAT(TorchLibFor(bare_, "/nonexistent/python"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("has no torch")));
}

}  // namespace
}  // namespace fabric::launcher
