import { readFileSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { RpcError } from "../errors";

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

/** NOT_FOUND for a process that exited (or is exiting) while `syscall` looked at it. */
export function processExited(pid: number, cause: unknown, syscall?: string): RpcError {
  return new RpcError(status.NOT_FOUND, `process ${pid} exited`, "ESRCH", { errno: "ESRCH", ...(syscall ? { syscall } : {}) }, { cause });
}
