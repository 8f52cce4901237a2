import { existsSync } from "node:fs";
import { checkLsmLabel } from "../../../server/auth/target-context";
import type { Caller } from "../../../server/auth/caller";
import { RpcError } from "../../../server/errors";
import { lsmLabel } from "../../../native/lib";

const caller: Caller = { name: "pods", key: "pods", scopes: new Set(["exec"]), targets: { cgroupPrefixes: ["/pods"] } };

describe("a target's LSM label (the program would run under the daemon's)", () => {
  it("passes a target without a label, with the daemon's label, or unconfined", () => {
    for (const [target, daemon] of [
      [undefined, undefined],
      [undefined, "system_u:system_r:lxnsd_t:s0"],
      ["system_u:system_r:lxnsd_t:s0", "system_u:system_r:lxnsd_t:s0"],
      ["unconfined", undefined],
    ] as const) {
      expect(() => checkLsmLabel(caller, { pid: 42, ...(target ? { lsmLabel: target } : {}) }, "process 42", daemon)).not.toThrow();
    }
  });

  it("refuses a target under another label, PERMISSION_DENIED TARGET_FORBIDDEN naming both", () => {
    for (const [target, daemon] of [
      ["cri-containerd.apparmor.d (enforce)", "unconfined"],
      ["system_u:system_r:container_t:s0:c1,c2", "system_u:system_r:lxnsd_t:s0"],
      ["docker-default (enforce)", undefined],
    ] as const) {
      let error: unknown;
      try {
        checkLsmLabel(caller, { pid: 42, lsmLabel: target }, "process 42", daemon);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(RpcError);
      expect((error as RpcError).code).toBe(7);
      expect((error as RpcError).reason).toBe("TARGET_FORBIDDEN");
      expect((error as RpcError).message).toContain(`"${target}"`);
      expect((error as RpcError).message).toContain(`"${daemon ?? "none"}"`);
    }
  });

  it("reads no label where no LSM labels processes (this machine), and the label where one does", () => {
    const active = existsSync("/sys/kernel/security/lsm");
    const label = lsmLabel("/proc/self");
    if (active) expect(typeof label === "string" || label === undefined).toBe(true);
    else expect(label).toBeUndefined();
  });
});
