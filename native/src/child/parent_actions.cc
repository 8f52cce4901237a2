#include "child/parent_actions.h"

#include <sys/socket.h>

#include "child/child_steps.h"
#include "ns_fd.h"

void SendGo(int status_fd) {
  char go = kGoByte;
  send(status_fd, &go, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

bool WriteIdMaps(int pid, const ChildSpec& spec, ChildFailure* failure) {
  std::string proc = "/proc/" + std::to_string(pid) + "/";
  struct File {
    const char* name;
    const std::string* data;
    ParentStep step;
  };
  std::string setgroups = spec.setgroups_deny ? "deny" : "allow";
  // setgroups must precede gid_map (the kernel freezes it afterwards).
  const File files[] = {
      {"setgroups", spec.gid_map.empty() ? nullptr : &setgroups, kParentStepWriteSetgroups},
      {"uid_map", spec.uid_map.empty() ? nullptr : &spec.uid_map, kParentStepWriteUidMap},
      {"gid_map", spec.gid_map.empty() ? nullptr : &spec.gid_map, kParentStepWriteGidMap}};
  for (const File& f : files) {
    if (f.data == nullptr) continue;
    std::string path = proc + f.name;
    const char* failed = "";
    int r = WriteWholeFile(path.c_str(), f.data->data(), f.data->size(), &failed);
    if (r < 0) {
      *failure = {-r, std::string(failed) + "(" + f.name + ")", "", kParentStepNames[f.step], ""};
      return false;
    }
  }
  return true;
}

bool OpenHeldNamespaces(int pid, const std::vector<std::string>& names, std::vector<int>* fds,
                        ChildFailure* failure) {
  std::string dir = "/proc/" + std::to_string(pid) + "/ns/";
  for (const std::string& name : names) {
    // "root": the child's root directory, which setns(CLONE_NEWNS) made its mount namespace's root.
    std::string path = name == "root" ? "/proc/" + std::to_string(pid) + "/root" : dir + name;
    int fd = name == "root" ? OpenDirectoryPath(path.c_str()) : OpenReadOnly(path.c_str());
    if (fd < 0) {
      *failure = {-fd, "open", path, kParentStepNames[kParentStepOpenNs], ""};
      return false;
    }
    fds->push_back(fd);
  }
  return true;
}
