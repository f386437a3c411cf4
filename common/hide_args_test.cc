#include "common/hide_args.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace fabric {
namespace {

std::vector<std::string> Hide(std::vector<std::string> args, int own_args) {
  std::vector<std::vector<char>> storage;
  std::vector<char*> argv;
  for (const std::string& a : args) {
    storage.emplace_back(a.begin(), a.end());
    storage.back().push_back(0);
  }
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  HideArgValues(argv.data(), own_args, {"--rdzv-token", "--token"});
  std::vector<std::string> out;
  for (int i = 0; argv[i] != nullptr; ++i) out.emplace_back(argv[i]);
  return out;
}

TEST(HideArgValuesTest, MasksBothSpellingsAndKeepsTheRest) {
  EXPECT_EQ(
      Hide({"fabric-run", "--rdzv-token", "s3cret", "--devices", "2", "prog"}, 4),
      (std::vector<std::string>{"fabric-run", "--rdzv-token", "******", "--devices", "2", "prog"}));
  EXPECT_EQ(Hide({"fabric-rendezvous", "--token=abc", "--port", "1"}, 3),
            (std::vector<std::string>{"fabric-rendezvous", "--token=***", "--port", "1"}));
}

TEST(HideArgValuesTest, LeavesTheProgramsArgumentsAndLookalikesAlone) {
  // The program's own --token is the program's business.
  EXPECT_EQ(Hide({"fabric-run", "--devices", "1", "prog", "--token", "mine"}, 2),
            (std::vector<std::string>{"fabric-run", "--devices", "1", "prog", "--token", "mine"}));
  EXPECT_EQ(Hide({"fabric-run", "--rdzv-token-file", "/f", "--rdzv-tokenx=1"}, 3),
            (std::vector<std::string>{"fabric-run", "--rdzv-token-file", "/f", "--rdzv-tokenx=1"}));
  // A flag with its value beyond own_args: not touched.
  EXPECT_EQ(Hide({"fabric-run", "--rdzv-token", "v"}, 1),
            (std::vector<std::string>{"fabric-run", "--rdzv-token", "v"}));
}

}  // namespace
}  // namespace fabric
