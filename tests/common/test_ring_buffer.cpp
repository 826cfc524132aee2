#include <gtest/gtest.h>

#include <vector>

#include "common/ring_buffer.h"

namespace paraserve {
namespace {

TEST(RingBuffer, WrapsAroundAndKeepsOrder) {
  RingBuffer<int> rb(5);
  const std::vector<int> a{1, 2, 3, 4};
  rb.push(a);
  rb.pop(3);
  const std::vector<int> b{5, 6, 7};
  rb.push(b);  // wraps: storage now holds 6,7 at the front
  ASSERT_EQ(rb.size(), 4u);
  std::vector<int> out(4);
  rb.copy_out(0, 4, out.data());
  EXPECT_EQ(out, (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(rb[1], 5);
}

TEST(RingBuffer, RefusesToGrowPastCapacity) {
  RingBuffer<float> rb(3);
  const std::vector<float> v{1, 2, 3, 4};
  EXPECT_THROW(rb.push(v), std::length_error);
  EXPECT_EQ(rb.size(), 0u);
  EXPECT_EQ(rb.bytes_reserved(), 3 * sizeof(float));
}

TEST(RingBuffer, ReadPastEndThrows) {
  RingBuffer<int> rb(4);
  rb.push(1);
  int x = 0;
  EXPECT_THROW(rb.copy_out(0, 2, &x), std::out_of_range);
}

}  // namespace
}  // namespace paraserve
