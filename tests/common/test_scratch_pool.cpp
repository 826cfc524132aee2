#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "common/scratch_pool.h"

namespace paraserve {
namespace {

struct Buffers {
  std::vector<float> data;
};

TEST(ScratchPool, ReturnedScratchIsReusedWithItsCapacity) {
  ScratchPool<Buffers> pool(2);
  const float* first = nullptr;
  {
    auto lease = pool.acquire();
    lease->data.resize(100000);
    first = lease->data.data();
  }
  EXPECT_EQ(pool.idle(), 1u);
  auto again = pool.acquire();
  EXPECT_EQ(again->data.data(), first);  // same buffer, no new allocation
  EXPECT_GE(again->data.capacity(), 100000u);
  EXPECT_EQ(pool.idle(), 0u);
}

TEST(ScratchPool, KeepsAtMostMaxIdle) {
  ScratchPool<Buffers> pool(2);
  {
    auto a = pool.acquire();
    auto b = pool.acquire();
    auto c = pool.acquire();  // three borrowed at once: three objects exist
    EXPECT_NE(&*a, &*b);
    EXPECT_NE(&*b, &*c);
  }
  EXPECT_EQ(pool.idle(), 2u);  // the third was freed on return
  ScratchPool<Buffers> none(0);
  { auto x = none.acquire(); }
  EXPECT_EQ(none.idle(), 0u);
}

TEST(ScratchPool, ConcurrentBorrowersNeverShareAnObject) {
  ScratchPool<Buffers> pool(4);
  std::vector<std::thread> threads;
  std::atomic<int> clashes{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        auto lease = pool.acquire();
        lease->data.assign(8, static_cast<float>(t));
        for (float v : lease->data)
          if (v != static_cast<float>(t)) ++clashes;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(clashes.load(), 0);
  EXPECT_LE(pool.idle(), 4u);
}

}  // namespace
}  // namespace paraserve
