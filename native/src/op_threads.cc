#include "op_threads.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

namespace {

// How long a thread that finished waits for another operation before it ends.
constexpr std::chrono::milliseconds kIdle(500);

class ThreadCache {
 public:
  void Run(std::function<void()> task) {
    std::unique_lock<std::mutex> lock(mu_);
    // An idle thread not yet claimed by a queued task takes it; otherwise a new thread.
    if (idle_ > queue_.size()) {
      queue_.push_back(std::move(task));
      cv_.notify_one();
      return;
    }
    lock.unlock();
    std::thread([this, first = std::move(task)]() mutable {
      first();
      first = nullptr;
      Serve();
    }).detach();
  }

 private:
  void Serve() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      idle_ += 1;
      bool got = cv_.wait_for(lock, kIdle, [this] { return !queue_.empty(); });
      idle_ -= 1;
      if (!got) return;
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      task();
      task = nullptr;
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  size_t idle_ = 0;
};

// Never destroyed: detached threads may still wait on it at exit.
ThreadCache* const cache = new ThreadCache();

}  // namespace

void RunOnOwnThread(std::function<void()> task) { cache->Run(std::move(task)); }
