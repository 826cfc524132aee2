#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "common/block_fifo.h"

namespace paraserve {
namespace {

std::vector<int> iota(int from, int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), from);
  return v;
}

TEST(BlockFifo, KeepsOrderAcrossBlocksAndPops) {
  BlockFifo<int> f(4, 20);
  int next_in = 0, next_out = 0;
  // Odd push and pop sizes so block boundaries fall everywhere.
  for (int round = 0; round < 50; ++round) {
    const int n = 1 + round % 7;
    if (f.free_space() >= static_cast<std::size_t>(n)) {
      f.push(iota(next_in, n));
      next_in += n;
    }
    std::vector<int> out(f.size());
    f.copy_out(0, out.size(), out.data());
    for (std::size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], next_out + static_cast<int>(i));
    const std::size_t drop = std::min<std::size_t>(f.size(), static_cast<std::size_t>(round % 5));
    f.pop(drop);
    next_out += static_cast<int>(drop);
    if (!f.empty()) {
      EXPECT_EQ(f[0], next_out);
    }
  }
}

TEST(BlockFifo, MemoryFollowsContentsNotCapacity) {
  BlockFifo<float> f(1000, 100000, 2);
  EXPECT_EQ(f.blocks_in_use(), 0u);
  const std::size_t empty_bytes = f.bytes_reserved();
  EXPECT_LT(empty_bytes, 1000 * sizeof(float));  // only the pointer tables
  std::vector<float> chunk(2500, 1.f);
  f.push(chunk);
  EXPECT_EQ(f.blocks_in_use(), 3u);
  for (int i = 0; i < 30; ++i) f.push(chunk);  // 77,500 values
  EXPECT_EQ(f.blocks_in_use(), 78u);
  f.pop(f.size() - 10);  // back to 10 values: the emptied blocks are freed but for two spares
  EXPECT_EQ(f.blocks_in_use(), 1u);
  EXPECT_EQ(f.spare_blocks(), 2u);
  EXPECT_EQ(f.bytes_reserved(), empty_bytes + 3 * 1000 * sizeof(float));
  f.release_memory();
  EXPECT_EQ(f.bytes_reserved(), empty_bytes);
}

TEST(BlockFifo, RefusesToGrowPastCapacityAndReadPastEnd) {
  BlockFifo<int> f(4, 10);
  f.push(iota(0, 3));
  f.pop(3);  // front now in the middle of a block position
  f.push(iota(0, 10));
  EXPECT_EQ(f.free_space(), 0u);
  EXPECT_THROW(f.push(1), std::length_error);
  int x[2];
  EXPECT_THROW(f.copy_out(9, 2, x), std::out_of_range);
  f.copy_out(8, 2, x);
  EXPECT_EQ(x[0], 8);
  EXPECT_EQ(x[1], 9);
  EXPECT_THROW(BlockFifo<int>(0, 4), std::invalid_argument);
}

}  // namespace
}  // namespace paraserve
