// Named points where a test may kill the process, to prove that what is on disk survives a crash
// there. LAYERWISE_CRASH_AT=name kills the process (SIGKILL, as the kernel or a user would) the
// first time it reaches crash_point("name"); name:N the N-th time. Unset, a crash point costs one
// string comparison.
#pragma once

namespace layerwise {

void crash_point(const char* name);

}  // namespace layerwise
