// Process-wide settings every layerwise program applies at start.
#pragma once

namespace layerwise {

/// Sets LibTorch's CPU thread count (0: every core; Debian's LibTorch may otherwise start with 1)
/// and keeps freed memory in the process: glibc returns large blocks to the system at once, and the
/// next tensor of that size then pays a page fault per 4 KiB page. On the 2-core VMs this project
/// was measured on, that made every fresh 60 MB tensor cost ~0.1 s, ten times the operation itself
/// (docs/PERFORMANCE.md).
void configure_runtime(int threads);

}  // namespace layerwise
