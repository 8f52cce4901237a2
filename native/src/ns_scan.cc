#include "ns_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>

#include "compat.h"
#include "ns_table.h"
#include "proc_command.h"

namespace {

constexpr size_t kNsTypeCount = sizeof(kNsTypes) / sizeof(kNsTypes[0]);

// The pid a /proc entry names, or 0 for anything else.
int PidOf(const char* name) {
  if (*name < '1' || *name > '9') return 0;
  char* end = nullptr;
  long pid = std::strtol(name, &end, 10);
  return (*end == '\0' && pid > 0 && pid <= 0x7fffffff) ? static_cast<int>(pid) : 0;
}

// The inode of the namespace an NS_GET_* ioctl yields; 0 when the kernel
// refuses (EPERM: out of view; EINVAL: not applicable).
uint64_t RelatedIno(int fd, unsigned long request) {
  int related = ioctl(fd, request);
  if (related < 0) return 0;
  struct stat st;
  uint64_t ino = fstat(related, &st) == 0 ? st.st_ino : 0;
  close(related);
  return ino;
}

// Owner, owner uid and parent of a row, through the ns file of its lowest
// pid. Left unset when that process is gone or has moved on.
void Enrich(NsScanRow* row) {
  char path[64];
  const NsTypeInfo& type = kNsTypes[row->type_index];
  std::snprintf(path, sizeof(path), "/proc/%d/ns/%s", row->pid, type.name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_ino == row->ino) {
    row->owner_ino = RelatedIno(fd, NS_GET_USERNS);
    if (type.clone_flag == CLONE_NEWUSER) {
      uid_t owner;
      if (ioctl(fd, NS_GET_OWNER_UID, &owner) == 0) {
        row->has_owner_uid = true;
        row->owner_uid = owner;
      }
    }
    if (type.clone_flag == CLONE_NEWUSER || type.clone_flag == CLONE_NEWPID) {
      row->parent_ino = RelatedIno(fd, NS_GET_PARENT);
      row->has_parent = row->parent_ino != 0;
    }
  }
  close(fd);
}

// Adds one process to the rows of every namespace it is in.
void ScanProcess(int proc_fd, int pid, std::unordered_map<uint64_t, NsScanRow> (&by_type)[kNsTypeCount]) {
  char name[32];
  std::snprintf(name, sizeof(name), "%d", pid);
  int dir = openat(proc_fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;  // gone (ENOENT/ESRCH): skip, as lsns does
  struct stat st;
  if (fstat(dir, &st) < 0) {
    close(dir);
    return;
  }
  const uint32_t uid = st.st_uid;
  for (size_t i = 0; i < kNsTypeCount; i++) {
    char ns_path[32];
    std::snprintf(ns_path, sizeof(ns_path), "ns/%s", kNsTypes[i].name);
    struct stat ns;
    // A zombie has lost most of its ns files (ENOENT): those types are skipped.
    if (fstatat(dir, ns_path, &ns, 0) < 0) continue;
    auto [it, added] = by_type[i].try_emplace(ns.st_ino);
    NsScanRow& row = it->second;
    if (added) {
      row = NsScanRow{static_cast<int>(i), ns.st_ino, ns.st_dev, 0, pid, uid, "", 0, false, 0, false, 0};
    } else if (pid < row.pid) {
      row.pid = pid;
      row.uid = uid;
    }
    row.nprocs++;
  }
  close(dir);
}

}  // namespace

int ScanNamespaces(std::vector<NsScanRow>* rows, const char** failed) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    *failed = "opendir";
    return -errno;
  }
  std::unordered_map<uint64_t, NsScanRow> by_type[kNsTypeCount];
  for (struct dirent* d; (errno = 0, d = readdir(proc)) != nullptr;) {
    int pid = PidOf(d->d_name);
    if (pid > 0) ScanProcess(dirfd(proc), pid, by_type);
  }
  int err = errno;
  closedir(proc);
  if (err != 0) {
    *failed = "readdir";
    return -err;
  }
  for (auto& map : by_type) {
    size_t first = rows->size();
    for (auto& entry : map) rows->push_back(std::move(entry.second));
    std::sort(rows->begin() + first, rows->end(), [](const NsScanRow& a, const NsScanRow& b) { return a.ino < b.ino; });
  }
  // One command per pid, read as one batch (a process whose mmap lock is stuck costs it kCommandBound, once).
  std::unordered_map<int, size_t> command_of;
  std::vector<int> pids;
  for (const NsScanRow& row : *rows) {
    if (command_of.try_emplace(row.pid, pids.size()).second) pids.push_back(row.pid);
  }
  std::vector<std::string> commands = ProcessCommands(pids);
  for (NsScanRow& row : *rows) {
    row.command = commands[command_of[row.pid]];
    Enrich(&row);
  }
  return 0;
}
