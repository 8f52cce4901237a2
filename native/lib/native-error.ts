/**
 * The one error class of the native addon. Defined here and handed to C++
 * by `init()`, so every failure the addon reports (thrown synchronously or
 * passed to a `runChild` callback) is a `NativeError` carrying a stable
 * errno name, never English text that callers would have to parse.
 *
 * The message reads like `setns(user): EPERM (Operation not permitted)` and
 * is for logs only; act on `code`, `syscall` and `step`.
 */
export class NativeError extends Error {
  /** errno name, e.g. "ENOENT", "EPERM"; "ETIMEDOUT" for a child timeout,
   * "ECANCELED" for a cancelled child, "ECHILD" for a child that died
   * without reporting. Unknown errno values are "E" + number. */
  code: string;
  /** The positive errno value. */
  errno: number;
  /** The failing syscall, e.g. "open", "setns", "ioctl(NS_GET_PARENT)",
   * "write(uid_map)"; "runChild" for a timeout or cancellation. */
  syscall: string;
  /** For child failures: the step that failed, e.g. "setns user",
   * "unshare", "write uid_map", "sethostname", "open ns",
   * "child died: signal 9". Absent for in-process calls. */
  step?: string;

  constructor(message: string, code: string, errno: number, syscall: string, step?: string) {
    super(message);
    this.name = "NativeError";
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    if (step !== undefined) this.step = step;
  }
}
