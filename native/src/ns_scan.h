// The /proc scan behind ListNamespaces and WatchNamespaces: lsns(8) in a
// function. Pure POSIX, no namespace change, no fork; runs on a libuv pool
// thread (see ns_scan_js.cc), so it touches no JS. It reads nothing of a
// process that takes the process's mmap lock but cmdline, which it reads
// through proc_command.h (bounded: a stuck process costs one kCommandBound
// and shows its comm).
#ifndef LXNSD_NATIVE_NS_SCAN_H_
#define LXNSD_NATIVE_NS_SCAN_H_

#include <cstdint>
#include <string>
#include <vector>

// One namespace that at least one visible process is in: one lsns row.
struct NsScanRow {
  int type_index;     // index into kNsTypes
  uint64_t ino;       // nsfs inode (lsns NS)
  uint64_t dev;       // st_dev of the nsfs file
  uint32_t nprocs;    // processes (thread groups) in it (lsns NPROCS)
  int pid;            // the lowest of their pids (lsns PID)
  uint32_t uid;       // owner of /proc/PID of that process (lsns USER, as a uid)
  std::string command;  // its cmdline, as lsns prints it (lsns COMMAND)
  uint64_t owner_ino;   // NS_GET_USERNS; 0 when out of view or the process is gone
  bool has_owner_uid;   // user namespaces: NS_GET_OWNER_UID
  uint32_t owner_uid;
  bool has_parent;      // user and pid namespaces below the root of our view: NS_GET_PARENT
  uint64_t parent_ino;
};

// Walks /proc/[0-9]* and stats /proc/PID/ns/<type> of every process, as
// lsns does (never *_for_children). Processes that vanish mid-scan, and
// ns files that a zombie no longer has, are skipped. Rows come in
// kNsTypes order, then by inode. Returns 0, or -errno when /proc itself
// cannot be read (*failed names the syscall).
int ScanNamespaces(std::vector<NsScanRow>* rows, const char** failed);

#endif  // LXNSD_NATIVE_NS_SCAN_H_
