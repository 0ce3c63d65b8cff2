#include "layerwise/core/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <torch/torch.h>

namespace layerwise {

void parallel_items(int64_t n, const std::function<void(int64_t)>& item, int threads) {
  if (n <= 0) return;
  const int64_t workers = std::min<int64_t>(n, threads > 0 ? threads : torch::get_num_threads());
  if (workers <= 1) {
    for (int64_t i = 0; i < n; ++i) item(i);
    return;
  }
  std::atomic<int64_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  const auto work = [&] {
    for (int64_t i = next++; i < n; i = next++) {
      try {
        item(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next = n;  // no item starts after a failure
      }
    }
  };
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < workers; ++t) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace layerwise
