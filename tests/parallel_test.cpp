// core/parallel.h: every item once, on several threads, failures rethrown.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "layerwise/core/parallel.h"

namespace lw = layerwise;

TEST(ParallelItems, EveryItemOnceOnSeveralThreads) {
  const int64_t n = 64;
  std::vector<std::atomic<int>> calls(n);
  std::mutex mutex;
  std::set<std::thread::id> threads;
  lw::parallel_items(
      n,
      [&](int64_t i) {
        ++calls[i];
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the others get their turn
        std::lock_guard<std::mutex> lock(mutex);
        threads.insert(std::this_thread::get_id());
      },
      3);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(calls[i], 1) << i;
  EXPECT_EQ(threads.size(), 3u);  // at::parallel_for ran everything on the caller (the bug)
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 1u);  // the caller works too
}

TEST(ParallelItems, OneThreadRunsInOrderAndNoItemsIsNothing) {
  std::vector<int64_t> order;
  lw::parallel_items(5, [&](int64_t i) { order.push_back(i); }, 1);
  EXPECT_EQ(order, (std::vector<int64_t>{0, 1, 2, 3, 4}));
  lw::parallel_items(0, [&](int64_t) { ADD_FAILURE() << "no item to run"; }, 4);
}

TEST(ParallelItems, TheFirstFailureIsRethrownAndStopsTheRest) {
  std::atomic<int64_t> started{0};
  try {
    lw::parallel_items(
        1000,
        [&](int64_t i) {
          ++started;
          if (i == 3) throw std::runtime_error("item 3 is bad");
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        },
        2);
    ADD_FAILURE() << "expected the item's exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "item 3 is bad");
  }
  EXPECT_LT(started.load(), 1000);  // items after the failure were not started
}
