// Bounded lock-free multi-producer / single-consumer queue of trivially copyable values
// (per-cell sequence numbers, after D. Vyukov's bounded MPMC design, specialised to one
// consumer). Storage is allocated once in the constructor. try_push never blocks, never
// allocates and fails when the queue is full; try_pop must be called from one thread only.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

#include "common/error.h"

namespace paraserve {

template <typename T>
class MpscQueue {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  // capacity: a power of two >= 2.
  explicit MpscQueue(std::size_t capacity)
      : mask_(checked(capacity) - 1), cells_(new Cell[capacity]) {
    for (std::size_t i = 0; i < capacity; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
  }
  MpscQueue(const MpscQueue&) = delete;
  MpscQueue& operator=(const MpscQueue&) = delete;

  std::size_t capacity() const { return mask_ + 1; }

  bool try_push(const T& v) noexcept {
    uint64_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& c = cells_[pos & mask_];
      uint64_t seq = c.seq.load(std::memory_order_acquire);
      auto diff = static_cast<int64_t>(seq - pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          c.value = v;
          c.seq.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // the slot still holds an unread value from one lap ago: full
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  // Single consumer. False when empty (or the next slot is claimed but not yet published).
  bool try_pop(T& out) noexcept {
    Cell& c = cells_[head_ & mask_];
    uint64_t seq = c.seq.load(std::memory_order_acquire);
    if (seq != head_ + 1) return false;
    out = c.value;
    c.seq.store(head_ + mask_ + 1, std::memory_order_release);
    ++head_;
    return true;
  }

 private:
  static std::size_t checked(std::size_t capacity) {
    if (capacity < 2 || (capacity & (capacity - 1)) != 0)
      throw Error("MpscQueue: capacity must be a power of two >= 2, got " + std::to_string(capacity));
    return capacity;
  }
  struct Cell {
    std::atomic<uint64_t> seq{0};
    T value{};
  };
  const std::size_t mask_;
  std::unique_ptr<Cell[]> cells_;
  alignas(64) std::atomic<uint64_t> tail_{0};  // producers
  alignas(64) uint64_t head_ = 0;              // consumer only
};

}  // namespace paraserve
