#include "child/cgroup_pool.h"

#include "child/program_cgroup.h"

#include <cstddef>

CgroupPool::~CgroupPool() {
  Clear();
  if (timer_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
}

ProgramCgroup* CgroupPool::Take(const std::string& parent) {
  // Most recently used first: the oldest are the next to expire.
  for (size_t i = idle_.size(); i-- > 0;) {
    ProgramCgroup* cg = idle_[i].cg;
    const std::string& path = cg->path();
    if (path.compare(0, path.rfind('/'), parent) != 0) continue;
    idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
    if (cg->Reopen() && cg->Idle()) return cg;
    cg->CloseFds();
    cg->Discard();
  }
  return nullptr;
}

bool CgroupPool::Put(ProgramCgroup* cg) {
  if (idle_.size() >= kMaxIdle || !cg->AsCreated()) return false;
  cg->CloseFds();
  cg->set_pool(nullptr);
  idle_.push_back({cg, uv_now(loop_)});
  Arm();
  return true;
}

void CgroupPool::Clear() {
  while (!idle_.empty()) {
    ProgramCgroup* cg = idle_.front().cg;
    idle_.pop_front();
    cg->Discard();
  }
  if (timer_ != nullptr) uv_timer_stop(timer_);
}

// Runs the timer until the oldest idle cgroup's time is up (none: stopped).
void CgroupPool::Arm() {
  if (idle_.empty()) {
    if (timer_ != nullptr) uv_timer_stop(timer_);
    return;
  }
  if (timer_ == nullptr) {
    timer_ = new uv_timer_t;
    if (uv_timer_init(loop_, timer_) != 0) {
      delete timer_;
      timer_ = nullptr;
      return;  // never expired by time: removed at Clear
    }
    timer_->data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(timer_));
  }
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(timer_))) return;
  uint64_t now = uv_now(loop_);
  uint64_t due = idle_.front().since + kIdleMs;
  uv_timer_start(timer_, [](uv_timer_t* t) { static_cast<CgroupPool*>(t->data)->Expire(); },
                 due > now ? due - now : 0, 0);
}

void CgroupPool::Expire() {
  uint64_t now = uv_now(loop_);
  while (!idle_.empty() && idle_.front().since + kIdleMs <= now) {
    ProgramCgroup* cg = idle_.front().cg;
    idle_.pop_front();
    cg->Discard();
  }
  Arm();
}
