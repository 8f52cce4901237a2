#include "ns_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "compat.h"
#include "ns_table.h"

namespace {

constexpr size_t kNsTypeCount = sizeof(kNsTypes) / sizeof(kNsTypes[0]);
// lsns reads at most BUFSIZ bytes of cmdline/comm and drops the last byte.
constexpr size_t kCommandBytes = 8192;

// The pid a /proc entry names, or 0 for anything else.
int PidOf(const char* name) {
  if (*name < '1' || *name > '9') return 0;
  char* end = nullptr;
  long pid = std::strtol(name, &end, 10);
  return (*end == '\0' && pid > 0 && pid <= 0x7fffffff) ? static_cast<int>(pid) : 0;
}

// lsns's proc_get_command: up to BUFSIZ bytes, NUL -> space, the last byte
// (the cmdline's final NUL, comm's newline) dropped. "" when unreadable.
std::string ReadCommandFile(int pid, const char* name) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string buf(kCommandBytes, '\0');
  size_t len = 0;
  while (len < buf.size()) {
    ssize_t n = read(fd, &buf[len], buf.size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
  }
  close(fd);
  if (len == 0) return "";
  buf.resize(len - 1);
  std::replace(buf.begin(), buf.end(), '\0', ' ');
  return buf;
}

// lsns COMMAND: the cmdline, or comm for kernel threads (empty cmdline).
std::string CommandOf(int pid) {
  std::string cmd = ReadCommandFile(pid, "cmdline");
  return cmd.empty() ? ReadCommandFile(pid, "comm") : cmd;
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
  std::unordered_map<int, std::string> commands;
  for (auto& map : by_type) {
    size_t first = rows->size();
    for (auto& entry : map) rows->push_back(std::move(entry.second));
    std::sort(rows->begin() + first, rows->end(), [](const NsScanRow& a, const NsScanRow& b) { return a.ino < b.ino; });
  }
  for (NsScanRow& row : *rows) {
    auto [it, added] = commands.try_emplace(row.pid);
    if (added) it->second = CommandOf(row.pid);
    row.command = it->second;
    Enrich(&row);
  }
  return 0;
}
