#include "proc_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "op_threads.h"

namespace {

// How long a batch may wait for its thread to begin (a busy machine) before
// every command in it is comm.
constexpr std::chrono::seconds kCommandThreadStart(2);
// lsns reads at most BUFSIZ bytes of cmdline/comm and drops the last byte.
constexpr size_t kCommandBytes = 8192;

// lsns's proc_get_command: up to BUFSIZ bytes, NUL -> space, the last byte
// (the cmdline's final NUL, comm's newline) dropped. "" when unreadable.
std::string ReadCommandFile(int pid, const char* name) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char buf[kCommandBytes];
  size_t len = 0;
  while (len < sizeof(buf)) {
    ssize_t n = read(fd, buf + len, sizeof(buf) - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
  }
  close(fd);
  if (len == 0) return "";
  std::string text(buf, len - 1);  // exact size: a batch holds many
  std::replace(text.begin(), text.end(), '\0', ' ');
  return text;
}

// Field 22 of /proc/PID/stat (start time, which a reused pid does not
// share); 0 when unreadable. /proc/PID/stat takes no lock of the mm.
unsigned long long StartTime(int pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  ssize_t n;
  do n = read(fd, buf, sizeof(buf) - 1);
  while (n < 0 && errno == EINTR);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');
  // Fields 3.. follow ") ", one space before each: stop at the one before field 22.
  for (int field = 3; p != nullptr && field <= 22; field++) p = std::strchr(p + 1, ' ');
  return p == nullptr ? 0 : std::strtoull(p + 1, nullptr, 10);
}

// The processes whose cmdline read is stuck (pid -> start time), and how
// many reads are (a pid reused while its reader is stuck, should that ever
// happen, replaces the entry but still counts).
std::mutex hung_mu;
std::unordered_map<int, unsigned long long>* const hung = new std::unordered_map<int, unsigned long long>();
size_t stuck_reads = 0;

bool KnownHung(int pid) {
  std::lock_guard<std::mutex> lock(hung_mu);
  auto it = hung->find(pid);
  return it != hung->end() && it->second == StartTime(pid);
}

bool TooManyStuck() {
  std::lock_guard<std::mutex> lock(hung_mu);
  return stuck_reads >= kMaxStuckCommandReads;
}

// The cmdlines of a list of processes, read one after the other on a
// thread of its own while the caller waits for each at most kCommandBound.
struct CmdlineBatch {
  std::mutex mu;
  std::condition_variable cv;  // notified once all are read
  std::vector<int> pids;
  std::vector<std::string> texts;
  size_t done = 0;  // how many are read
  bool running = false;  // the reader has begun (its thread may be late to start: that is no hang)
  std::chrono::steady_clock::time_point started;  // when the read of pids[done] began
  bool abandoned = false;  // the caller gave up on pids[done]: the reader forgets it when it returns, and ends
  unsigned long long start_time = 0;  // of pids[done] then
};

// On the batch's own thread.
void ReadCmdlines(const std::shared_ptr<CmdlineBatch>& batch) {
  std::unique_lock<std::mutex> lock(batch->mu);
  if (batch->abandoned) return;  // given up before it began: nothing is stuck
  batch->running = true;
  batch->cv.notify_one();
  while (batch->done < batch->pids.size()) {
    int pid = batch->pids[batch->done];
    batch->started = std::chrono::steady_clock::now();
    lock.unlock();
    std::string text = ReadCommandFile(pid, "cmdline");
    lock.lock();
    if (batch->abandoned) {
      std::lock_guard<std::mutex> hung_lock(hung_mu);
      stuck_reads -= 1;
      auto it = hung->find(pid);
      if (it != hung->end() && it->second == batch->start_time) hung->erase(it);
      return;
    }
    batch->texts[batch->done++] = std::move(text);
  }
  batch->cv.notify_one();
}

// How a batch ended.
enum class BatchEnd { kAll, kStuck, kNoThread };

// Reads the cmdlines of pids[*next..] into texts (ReadCommandFile's text),
// advancing *next past each one read. kStuck: the read of pids[*next]
// passed kCommandBound (it is remembered as hung; *next is moved past it).
BatchEnd ReadBatch(const std::vector<int>& pids, size_t* next, std::vector<std::string>* texts) {
  auto batch = std::make_shared<CmdlineBatch>();
  batch->pids.assign(pids.begin() + static_cast<std::ptrdiff_t>(*next), pids.end());
  batch->texts.resize(batch->pids.size());
  try {
    RunOnOwnThread([batch] { ReadCmdlines(batch); });
  } catch (const std::system_error&) {
    return BatchEnd::kNoThread;
  }
  std::unique_lock<std::mutex> lock(batch->mu);
  // A thread that is free takes the batch: only a thread busy elsewhere could keep it from starting.
  if (!batch->cv.wait_for(lock, kCommandThreadStart, [&batch] { return batch->running; })) {
    batch->abandoned = true;
    return BatchEnd::kNoThread;
  }
  bool finished;
  for (;;) {
    if (batch->done == batch->pids.size()) {
      finished = true;
      break;
    }
    auto deadline = batch->started + kCommandBound;
    if (std::chrono::steady_clock::now() >= deadline) {
      finished = false;
      break;
    }
    batch->cv.wait_until(lock, deadline);
  }
  for (size_t i = 0; i < batch->done; i++) (*texts)[*next + i] = std::move(batch->texts[i]);
  *next += batch->done;
  if (finished) return BatchEnd::kAll;
  // Marked under batch->mu, so the reader, which checks `abandoned` under it, forgets exactly this.
  int pid = batch->pids[batch->done];
  batch->abandoned = true;
  batch->start_time = StartTime(pid);
  std::lock_guard<std::mutex> hung_lock(hung_mu);
  stuck_reads += 1;
  (*hung)[pid] = batch->start_time;
  *next += 1;  // its text stays "": comm
  return BatchEnd::kStuck;
}

}  // namespace

std::vector<std::string> ProcessCommands(const std::vector<int>& pids) {
  std::vector<std::string> commands(pids.size());
  // Those not known as hung have their cmdline read, in one batch while none sticks.
  std::vector<int> to_read;
  std::vector<size_t> index;
  for (size_t i = 0; i < pids.size(); i++) {
    if (KnownHung(pids[i])) continue;
    to_read.push_back(pids[i]);
    index.push_back(i);
  }
  std::vector<std::string> texts(to_read.size());
  size_t next = 0;
  // After a stuck read, a new batch (on another thread) goes on with the rest; no thread: comm for the rest.
  while (next < to_read.size() && !TooManyStuck() && ReadBatch(to_read, &next, &texts) == BatchEnd::kStuck) {
  }
  for (size_t i = 0; i < to_read.size(); i++) commands[index[i]] = std::move(texts[i]);
  for (size_t i = 0; i < pids.size(); i++) {
    if (commands[i].empty()) commands[i] = ReadCommandFile(pids[i], "comm");
  }
  return commands;
}

std::string ProcessCommand(int pid) { return std::move(ProcessCommands({pid})[0]); }

size_t StuckCommandReads() {
  std::lock_guard<std::mutex> lock(hung_mu);
  return stuck_reads;
}
