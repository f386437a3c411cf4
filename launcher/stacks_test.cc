#include "launcher/stacks.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace fabric::launcher {
namespace {

std::set<std::string>* g_files;
bool Exists(const std::string& p) { return g_files->count(p) > 0; }

TEST(PySpyForTest, PrefersTheOneNextToTheRanksInterpreter) {
  std::set<std::string> files = {"/venv/bin/py-spy", "/work/.venv/bin/py-spy"};
  g_files = &files;
  EXPECT_EQ(PySpyFor("/venv/bin/python", "/", Exists, true), "/venv/bin/py-spy");
  EXPECT_EQ(PySpyFor(".venv/bin/python", "/work", Exists, false), "/work/.venv/bin/py-spy")
      << "relative to the rank's working directory";
  EXPECT_EQ(PySpyFor("python3", "/work", Exists, true), "py-spy") << "found through PATH";
  EXPECT_EQ(PySpyFor("/usr/bin/python3", "/", Exists, false), std::nullopt);
}

}  // namespace
}  // namespace fabric::launcher
