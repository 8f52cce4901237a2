// The memory of one per-request child (see "Memory" in child_protocol.h):
// a guard-paged private stack region and a shared control page (plus the
// readFile buffer), and the pool that keeps finished regions for the next
// runs. No N-API here.
#ifndef LXNSD_NATIVE_REGION_POOL_H_
#define LXNSD_NATIVE_REGION_POOL_H_

#include <cstddef>
#include <vector>

#include "child/child_protocol.h"

struct ChildFailure;

constexpr size_t kPage = 4096;
constexpr size_t kStackSize = 64 * 1024;
// The keeper init's stack until it execs: a few syscalls' worth.
constexpr size_t kInitStackSize = 16 * 1024;
constexpr size_t kStackRegionSize = kPage + kInitStackSize + kPage + kStackSize;

// [guard][keeper init stack][guard][stack] (MAP_PRIVATE) and
// [ChildControl page][readFile buffer] (MAP_SHARED).
struct ChildRegion {
  char* stack = nullptr;
  char* shared = nullptr;
  size_t shared_len = 0;

  ChildControl* ctl() const { return reinterpret_cast<ChildControl*>(shared); }
  // The readFile buffer, after the control page.
  char* read_buf() const { return shared + kPage; }
  // Top of the keeper init's stack; an exec spec (never with a keeper)
  // runs its program's own clone there.
  char* init_stack_top() const { return stack + kPage + kInitStackSize; }
  // The child's stack: its lowest address and its top.
  char* stack_low() const { return stack + kPage + kInitStackSize + kPage; }
  char* stack_top() const { return stack + kStackRegionSize; }
};

// Stack regions and control pages of finished runs, kept for the next
// ones (DESIGN: a reused, guard-paged stack): a fresh mmap/munmap per
// request costs TLB shootdowns across every CPU running the daemon's mm.
class RegionPool {
 public:
  RegionPool() = default;
  ~RegionPool();
  RegionPool(const RegionPool&) = delete;
  RegionPool& operator=(const RegionPool&) = delete;

  // A region whose shared part holds `read_max` bytes after the control
  // page (zeroed, as fresh from mmap). False with *failure set; the part
  // already taken is in *region then, for Release.
  bool Acquire(size_t read_max, ChildRegion* region, ChildFailure* failure);
  // Only once its child was reaped (or, direct exec, has exec'd), when
  // neither it, its keeper nor its program can still run on it. Clears
  // *region.
  void Release(ChildRegion* region);

 private:
  std::vector<char*> spare_stacks_;
  std::vector<char*> spare_pages_;
};

#endif  // LXNSD_NATIVE_REGION_POOL_H_
