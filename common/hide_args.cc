#include "common/hide_args.h"

#include <cstring>

namespace fabric {
namespace {

void Mask(char* value) {
  for (char* p = value; *p != '\0'; ++p) *p = '*';
}

}  // namespace

void HideArgValues(char** argv, int own_args, const std::vector<std::string>& flags) {
  for (int i = 1; i <= own_args && argv[i] != nullptr; ++i) {
    for (const std::string& flag : flags) {
      if (flag == argv[i]) {
        if (i + 1 <= own_args && argv[i + 1] != nullptr) Mask(argv[i + 1]);
      } else if (std::strncmp(argv[i], flag.c_str(), flag.size()) == 0 &&
                 argv[i][flag.size()] == '=') {
        Mask(argv[i] + flag.size() + 1);
      }
    }
  }
}

}  // namespace fabric
