#include "layerwise/core/runtime.h"

#include <malloc.h>

#include <thread>

#include <torch/torch.h>

namespace layerwise {

void configure_runtime(int threads) {
#ifdef M_MMAP_MAX
  mallopt(M_MMAP_MAX, 0);              // large blocks from the heap, reusable without page faults
  mallopt(M_TRIM_THRESHOLD, 1 << 30);  // keep up to 1 GiB of freed memory rather than unmapping it
#endif
  const unsigned cores = std::thread::hardware_concurrency();
  torch::set_num_threads(threads > 0 ? threads : static_cast<int>(cores > 0 ? cores : 1));
}

}  // namespace layerwise
