// A bounded pool of reusable scratch objects (issue 9). Work that needs large, short-lived
// buffers (the offline pass: segment copy, features, model output) borrows one for the call
// instead of allocating and freeing them per segment, so those pages stay mapped and the
// allocator is not in that path at all. The pool holds at most `max_idle` objects while none
// is borrowed (each keeps the capacity of the largest job it served); at most as many are
// alive as there are concurrent borrowers (the decoder threads). acquire()/release take a
// mutex once per job, never per audio chunk.
#pragma once
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace paraserve {

template <class T>
class ScratchPool {
 public:
  explicit ScratchPool(std::size_t max_idle) : max_idle_(max_idle) {}
  ScratchPool(const ScratchPool&) = delete;
  ScratchPool& operator=(const ScratchPool&) = delete;

  // RAII loan: returns the object to the pool (or frees it when the pool is full).
  class Lease {
   public:
    Lease(ScratchPool* pool, std::unique_ptr<T> obj) : pool_(pool), obj_(std::move(obj)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (obj_) pool_->give_back(std::move(obj_));
    }
    T& operator*() const { return *obj_; }
    T* operator->() const { return obj_.get(); }

   private:
    ScratchPool* pool_;
    std::unique_ptr<T> obj_;
  };

  Lease acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        std::unique_ptr<T> obj = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(obj));
      }
    }
    return Lease(this, std::make_unique<T>());
  }

  std::size_t idle() const {
    std::lock_guard lock(mu_);
    return idle_.size();
  }
  std::size_t max_idle() const { return max_idle_; }

 private:
  void give_back(std::unique_ptr<T> obj) {
    std::lock_guard lock(mu_);
    if (idle_.size() < max_idle_) idle_.push_back(std::move(obj));
    // else: the pool is full and `obj` is freed on return
  }

  const std::size_t max_idle_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<T>> idle_;
};

}  // namespace paraserve
