// The code version recorded in every result file.
#pragma once

#include <string>

namespace layerwise {

/// "0.1.0 (git abc1234)". Defined in version.cpp, the one file that sees the git hash, so that a
/// new commit recompiles only it.
std::string version_string();

}  // namespace layerwise
