// What the parent does while the per-request child waits on the status
// socket (see "Status socket" in child_protocol.h): write its id maps, open
// its namespaces to hold, tell it to go on. No N-API here.
#ifndef LXNSD_NATIVE_PARENT_ACTIONS_H_
#define LXNSD_NATIVE_PARENT_ACTIONS_H_

#include <string>
#include <vector>

#include "child/child_result.h"
#include "child/child_spec.h"

// Writes /proc/PID/{setgroups,uid_map,gid_map} as `spec` says. False with
// *failure set (step "write setgroups", "write uid_map", "write gid_map").
bool WriteIdMaps(int pid, const ChildSpec& spec, ChildFailure* failure);
// Opens /proc/PID/ns/<name> for each of `names`, appending the fds to
// *fds. False with *failure set (step "open ns"); the fds opened so far
// stay in *fds.
bool OpenHeldNamespaces(int pid, const std::vector<std::string>& names, std::vector<int>* fds,
                        ChildFailure* failure);
// kGoByte on the parent's end of the status socket.
void SendGo(int status_fd);

#endif  // LXNSD_NATIVE_PARENT_ACTIONS_H_
