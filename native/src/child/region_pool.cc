#include "child/region_pool.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "child/child_result.h"

namespace {

// How many finished regions the pool keeps for reuse, of each kind.
constexpr size_t kSpareRegions = 16;

size_t RoundUp(size_t n) { return (n + kPage - 1) / kPage * kPage; }

}  // namespace

RegionPool::~RegionPool() {
  for (char* stack : spare_stacks_) munmap(stack, kStackRegionSize);
  for (char* page : spare_pages_) munmap(page, kPage);
}

bool RegionPool::Acquire(size_t read_max, ChildRegion* region, ChildFailure* failure) {
  if (!spare_stacks_.empty()) {
    region->stack = spare_stacks_.back();
    spare_stacks_.pop_back();
  } else {
    void* stack = mmap(nullptr, kStackRegionSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
      *failure = {errno, "mmap", "stack", "", ""};
      return false;
    }
    region->stack = static_cast<char*>(stack);
    // Guard pages below both stacks: an overflow faults instead of corrupting.
    mprotect(region->stack, kPage, PROT_NONE);
    mprotect(region->stack + kPage + kInitStackSize, kPage, PROT_NONE);
  }
  region->shared_len = kPage + RoundUp(read_max);
  if (region->shared_len == kPage && !spare_pages_.empty()) {
    region->shared = spare_pages_.back();
    spare_pages_.pop_back();
    std::memset(region->shared, 0, kPage);  // as fresh from mmap
  } else {
    void* shared = mmap(nullptr, region->shared_len, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
      *failure = {errno, "mmap", "shared", "", ""};
      return false;
    }
    region->shared = static_cast<char*>(shared);
  }
  return true;
}

void RegionPool::Release(ChildRegion* region) {
  if (region->stack != nullptr) {
    if (spare_stacks_.size() < kSpareRegions) spare_stacks_.push_back(region->stack);
    else munmap(region->stack, kStackRegionSize);
  }
  if (region->shared != nullptr) {
    if (region->shared_len == kPage && spare_pages_.size() < kSpareRegions) spare_pages_.push_back(region->shared);
    else munmap(region->shared, region->shared_len);
  }
  region->stack = region->shared = nullptr;
}
