// errno -> stable name ("ENOENT"), the `code` of every NativeError.
#ifndef LXNSD_NATIVE_ERRNO_NAMES_H_
#define LXNSD_NATIVE_ERRNO_NAMES_H_

#include <string>

// The symbolic name of a positive errno value; "E" + number when unknown.
std::string ErrnoName(int err);

#endif  // LXNSD_NATIVE_ERRNO_NAMES_H_
