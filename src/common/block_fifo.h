// Bounded FIFO of trivially copyable values stored in fixed-size blocks that are allocated
// on demand and released when the front is popped. Unlike RingBuffer (whose whole capacity
// is allocated and touched up front), memory follows the amount actually held: an audio
// history bounded at 65 s costs ~160 KB while it holds 2 s. At most `max_spare` emptied
// blocks are kept for reuse, so steady streaming does not allocate per block either.
//
// Pushes beyond `capacity` throw (the caller's budget stays explicit). The block-pointer
// tables are reserved once at construction, so push/pop never reallocate them.
#pragma once
#include <algorithm>
#include <cstddef>
#include <memory>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace paraserve {

template <typename T>
class BlockFifo {
  static_assert(std::is_trivially_copyable_v<T>);
  using Block = std::unique_ptr<T[]>;

 public:
  // block_size: values per block (> 0); capacity: most values held at once (> 0);
  // max_spare: emptied blocks kept for reuse instead of freed.
  BlockFifo(std::size_t block_size, std::size_t capacity, std::size_t max_spare = 2)
      : block_(block_size), capacity_(capacity), max_spare_(max_spare) {
    if (block_size == 0 || capacity == 0) throw std::invalid_argument("BlockFifo: block_size and capacity must be > 0");
    // A full FIFO whose front sits anywhere inside its first block spans this many blocks.
    blocks_.reserve((capacity + block_size - 1) / block_size + 1);
    spare_.reserve(max_spare);
  }
  BlockFifo(BlockFifo&&) noexcept = default;
  BlockFifo& operator=(BlockFifo&&) noexcept = default;

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::size_t capacity() const { return capacity_; }
  std::size_t free_space() const { return capacity_ - size_; }
  std::size_t block_size() const { return block_; }
  std::size_t blocks_in_use() const { return blocks_.size(); }
  std::size_t spare_blocks() const { return spare_.size(); }
  // Heap bytes currently held (blocks in use + spares + the two pointer tables).
  std::size_t bytes_reserved() const {
    return (blocks_.size() + spare_.size()) * block_ * sizeof(T) +
           (blocks_.capacity() + spare_.capacity()) * sizeof(Block);
  }

  void push(std::span<const T> values) {
    if (values.size() > free_space()) throw std::length_error("BlockFifo: capacity exceeded");
    while (!values.empty()) {
      const std::size_t end = head_ + size_;  // position after the last value, across blocks
      if (end == blocks_.size() * block_) blocks_.push_back(take_block());
      const std::size_t in_block = end % block_;
      const std::size_t n = std::min(values.size(), block_ - in_block);
      std::copy_n(values.data(), n, blocks_[end / block_].get() + in_block);
      size_ += n;
      values = values.subspan(n);
    }
  }
  void push(const T& v) { push(std::span<const T>(&v, 1)); }

  // Drops n values from the front; blocks emptied by it go to the spares or are freed.
  void pop(std::size_t n) {
    n = std::min(n, size_);
    size_ -= n;
    head_ += n;
    if (size_ == 0) {
      release_front(blocks_.size());
      head_ = 0;
      return;
    }
    const std::size_t whole = head_ / block_;
    release_front(whole);
    head_ -= whole * block_;
  }

  // Empties the FIFO (blocks go to the spares up to max_spare, the rest are freed).
  void clear() { pop(size_); }
  // Also frees the spares: the FIFO then holds no value memory at all.
  void release_memory() {
    clear();
    spare_.clear();
  }

  // Copies n values starting `offset` values after the front into out.
  void copy_out(std::size_t offset, std::size_t n, T* out) const {
    if (offset + n > size_) throw std::out_of_range("BlockFifo: read past end");
    std::size_t pos = head_ + offset;
    while (n > 0) {
      const std::size_t in_block = pos % block_;
      const std::size_t k = std::min(n, block_ - in_block);
      std::copy_n(blocks_[pos / block_].get() + in_block, k, out);
      out += k;
      pos += k;
      n -= k;
    }
  }

  const T& operator[](std::size_t i) const {
    const std::size_t pos = head_ + i;
    return blocks_[pos / block_][pos % block_];
  }

 private:
  Block take_block() {
    if (!spare_.empty()) {
      Block b = std::move(spare_.back());
      spare_.pop_back();
      return b;
    }
    return std::make_unique_for_overwrite<T[]>(block_);  // no zero fill: pages are touched on write
  }
  void release_front(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i)
      if (spare_.size() < max_spare_) spare_.push_back(std::move(blocks_[i]));
    blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(count));
  }

  std::size_t block_;
  std::size_t capacity_;
  std::size_t max_spare_;
  std::vector<Block> blocks_;  // blocks_[0] holds the front value at index head_
  std::vector<Block> spare_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace paraserve
