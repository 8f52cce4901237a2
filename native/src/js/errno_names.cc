#include "js/errno_names.h"

#include <cerrno>

namespace {

struct ErrnoEntry {
  int value;
  const char* name;
};

// The one table. Names, not strerror() text: TS and the server map these.
constexpr ErrnoEntry kErrnoNames[] = {
    {EPERM, "EPERM"},         {ENOENT, "ENOENT"},
    {ESRCH, "ESRCH"},         {EINTR, "EINTR"},
    {EIO, "EIO"},             {ENXIO, "ENXIO"},
    {E2BIG, "E2BIG"},         {ENOEXEC, "ENOEXEC"},
    {EBADF, "EBADF"},         {ECHILD, "ECHILD"},
    {EAGAIN, "EAGAIN"},       {ENOMEM, "ENOMEM"},
    {EACCES, "EACCES"},       {EFAULT, "EFAULT"},
    {EBUSY, "EBUSY"},         {EEXIST, "EEXIST"},
    {EXDEV, "EXDEV"},         {ENODEV, "ENODEV"},
    {ENOTDIR, "ENOTDIR"},     {EISDIR, "EISDIR"},
    {EINVAL, "EINVAL"},       {ENFILE, "ENFILE"},
    {EMFILE, "EMFILE"},       {ENOTTY, "ENOTTY"},
    {EFBIG, "EFBIG"},         {ENOSPC, "ENOSPC"},
    {ESPIPE, "ESPIPE"},       {EROFS, "EROFS"},
    {EMLINK, "EMLINK"},       {EPIPE, "EPIPE"},
    {ERANGE, "ERANGE"},       {EDEADLK, "EDEADLK"},
    {ENAMETOOLONG, "ENAMETOOLONG"}, {ENOSYS, "ENOSYS"},
    {ENOTEMPTY, "ENOTEMPTY"}, {ELOOP, "ELOOP"},
    {EOVERFLOW, "EOVERFLOW"}, {EUSERS, "EUSERS"},
    {ENOTSOCK, "ENOTSOCK"},   {EOPNOTSUPP, "EOPNOTSUPP"},
    {EAFNOSUPPORT, "EAFNOSUPPORT"}, {EADDRINUSE, "EADDRINUSE"},
    {ECONNRESET, "ECONNRESET"}, {ENOBUFS, "ENOBUFS"},
    {ETIMEDOUT, "ETIMEDOUT"}, {ECONNREFUSED, "ECONNREFUSED"},
    {ECANCELED, "ECANCELED"}, {EOWNERDEAD, "EOWNERDEAD"},
};

}  // namespace

std::string ErrnoName(int err) {
  for (const ErrnoEntry& e : kErrnoNames) {
    if (e.value == err) return e.name;
  }
  return "E" + std::to_string(err);
}
