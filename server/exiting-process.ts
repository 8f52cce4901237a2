import { readFileSync } from "node:fs";

/**
 * Whether `pid` is gone or in the middle of exiting. The kernel answers
 * EACCES for /proc/PID/ns/* once an exiting process has dropped its memory
 * (the ptrace access check needs it), before it becomes a zombie: that is a
 * process that exited, not a permission problem. An exiting process's
 * status has no Vm* lines; a live user process always has them.
 */
export function isExitingProcess(pid: number): boolean {
  try {
    return !/^VmSize:/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return true;
  }
}
