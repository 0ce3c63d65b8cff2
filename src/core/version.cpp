#include "layerwise/core/version.h"

namespace layerwise {

std::string version_string() {
  return std::string(LAYERWISE_VERSION) + " (git " + LAYERWISE_GIT + ")";
}

}  // namespace layerwise
