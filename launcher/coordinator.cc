#include "launcher/coordinator.h"

namespace fabric::launcher {

bool ShrinksInPlace(const NodePlacement& current, const std::string& current_rank0_node,
                    const NodePlacement& next, const std::string& next_rank0_node) {
  return next.world_size < current.world_size &&
         next.local_world_size == current.local_world_size && !current_rank0_node.empty() &&
         current_rank0_node == next_rank0_node;
}

}  // namespace fabric::launcher
