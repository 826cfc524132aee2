// Fixed-capacity ring buffer of trivially copyable values. Capacity is chosen once
// (reserve()); pushes beyond it throw, so a caller's budget is explicit. Used for audio
// histories and any FIFO whose length must not grow with stream duration.
#pragma once
#include <algorithm>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace paraserve {

template <typename T>
class RingBuffer {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  RingBuffer() = default;
  explicit RingBuffer(std::size_t capacity) { reserve(capacity); }

  // Sets the capacity and clears the contents. Allocates only when the capacity changes.
  void reserve(std::size_t capacity) {
    if (capacity != buf_.size()) {
      buf_.assign(capacity, T{});
      buf_.shrink_to_fit();
    }
    clear();
  }

  void clear() { head_ = 0; size_ = 0; }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return buf_.size(); }
  std::size_t free_space() const { return buf_.size() - size_; }
  bool empty() const { return size_ == 0; }
  std::size_t bytes_reserved() const { return buf_.size() * sizeof(T); }

  void push(std::span<const T> values) {
    if (values.size() > free_space()) throw std::length_error("RingBuffer: capacity exceeded");
    std::size_t tail = (head_ + size_) % cap();
    std::size_t first = std::min(values.size(), cap() - tail);
    std::copy_n(values.data(), first, buf_.data() + tail);
    std::copy_n(values.data() + first, values.size() - first, buf_.data());
    size_ += values.size();
  }
  void push(const T& v) { push(std::span<const T>(&v, 1)); }

  // Drops n values from the front.
  void pop(std::size_t n) {
    n = std::min(n, size_);
    head_ = size_ == n ? 0 : (head_ + n) % cap();
    size_ -= n;
  }

  // Copies `n` values starting `offset` values after the front into `out`.
  void copy_out(std::size_t offset, std::size_t n, T* out) const {
    if (offset + n > size_) throw std::out_of_range("RingBuffer: read past end");
    std::size_t start = (head_ + offset) % cap();
    std::size_t first = std::min(n, cap() - start);
    std::copy_n(buf_.data() + start, first, out);
    std::copy_n(buf_.data(), n - first, out + first);
  }

  const T& operator[](std::size_t i) const { return buf_[(head_ + i) % cap()]; }
  T& operator[](std::size_t i) { return buf_[(head_ + i) % cap()]; }

 private:
  std::size_t cap() const { return buf_.empty() ? 1 : buf_.size(); }
  std::vector<T> buf_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace paraserve
