// Work spread over CPU threads, one item at a time: image decoding and per-batch resizing, where
// items differ in cost (images of different sizes) and are each large (milliseconds).
//
// Own threads, not at::parallel_for: with LibTorch's OpenMP backend, at::parallel_for is header
// code whose `#pragma omp parallel` only takes effect in code compiled with -fopenmp, so in ours it
// ran every item on the calling thread (measured: no gain from 2 or 16 threads); and a second
// OpenMP runtime beside the one LibTorch ships is worse. Items should avoid LibTorch's own
// multi-threaded kernels on large tensors (copy by memcpy): a worker calling one starts an OpenMP
// team of its own.
#pragma once

#include <cstdint>
#include <functional>

namespace layerwise {

/// Calls item(i) for every i in [0, n), on up to `threads` threads including the caller (0: as
/// many as LibTorch's CPU thread count, core/runtime.h). Items are handed out in order as threads
/// become free. The first exception an item throws is rethrown once every thread has stopped; no
/// item starts after it.
void parallel_items(int64_t n, const std::function<void(int64_t)>& item, int threads = 0);

}  // namespace layerwise
