// The code version recorded in every result file.
#pragma once

#include <string>

namespace layerwise {

/// "0.1.0 (git abc1234)".
inline std::string version_string() {
  return std::string(LAYERWISE_VERSION) + " (git " + LAYERWISE_GIT + ")";
}

}  // namespace layerwise
