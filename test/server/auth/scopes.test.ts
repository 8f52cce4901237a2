import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { LxnsdError, NamespaceType, createClient, status } from "../../../client";
import type { LxnsdClient } from "../../../client";
import pino from "pino";
import { defaultConfig } from "../../../server/config/config";
import { Daemon } from "../../../server/daemon";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { codeOf, reasonOf } from "../../helpers/outcome";
import { capturingLogger, newToken, tokenHash, writePolicy } from "../../helpers/policy";
import { describeRoot } from "../../helpers/privileged";
import { childrenOf, nsInode } from "../../helpers/proc";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";

const tokens = { reader: newToken(), runner: newToken(), admin: newToken(), other: newToken() };

describeRoot("scopes, identities and audit", () => {
  let daemon: TestDaemon;
  let target: Target;
  let scratch: string;
  const logs = capturingLogger();
  const clients: LxnsdClient[] = [];
  const as = (token: string | undefined): LxnsdClient => {
    const client = createClient(daemon.address, token === undefined ? {} : { token });
    clients.push(client);
    return client;
  };
  const netOf = (pid: number) => ({ type: NamespaceType.NET, source: { case: "pid" as const, value: pid } });

  beforeAll(async () => {
    const policy = writePolicy({
      identities: [
        { name: "reader", scopes: ["read"], tokens: [tokenHash(tokens.reader)] },
        { name: "runner", scopes: ["read", "exec"], tokens: [tokenHash(tokens.runner)] },
        { name: "admin", scopes: ["read", "admin"], tokens: [tokenHash(tokens.admin)] },
        { name: "other-admin", scopes: ["read", "admin"], tokens: [tokenHash(tokens.other)] },
      ],
    });
    daemon = await startDaemon({ policyFile: policy, maxHandlesPerIdentity: 2 }, logs.log);
    target = await startTarget(["unshare", "--net"]);
    scratch = mkdtempSync(path.join(tmpdir(), "lxnsd-scopes-"));
  });

  afterAll(async () => {
    clients.forEach((client) => client.disconnect());
    await target?.kill();
    await daemon?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("a read token inspects but may not Run: PERMISSION_DENIED and no process is created", async () => {
    const reader = as(tokens.reader);
    const { info } = await reader.inspect({ ref: netOf(target.pid) });
    expect(info!.nsId).toBe(nsInode(target.pid, "net"));
    const marker = path.join(scratch, "reader-ran");
    const before = childrenOf().length;
    const err = await reader.run({ join: [netOf(target.pid)], argv: ["/usr/bin/touch", marker] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LxnsdError);
    expect((err as LxnsdError).code).toBe(status.PERMISSION_DENIED);
    expect((err as LxnsdError).reason).toBe("SCOPE_MISSING");
    expect((err as LxnsdError).message).toMatch(/reader lacks the exec scope that ProcessService\/Run needs/);
    expect(childrenOf().length).toBe(before);
    expect(existsSync(marker)).toBe(false);
    expect(await reasonOf(reader.unshare({ types: [NamespaceType.UTS] }))).toBe("PERMISSION_DENIED SCOPE_MISSING");
  });

  it("an exec token runs the program", async () => {
    const marker = path.join(scratch, "runner-ran");
    const result = await as(tokens.runner).run({ join: [netOf(target.pid)], argv: ["/usr/bin/touch", marker] });
    expect(result.exit).toEqual({ code: 0 });
    expect(existsSync(marker)).toBe(true);
    // exec does not include admin
    expect(await reasonOf(as(tokens.runner).open({ ref: netOf(target.pid) }))).toBe("PERMISSION_DENIED SCOPE_MISSING");
  });

  it("an unknown or malformed token is UNAUTHENTICATED, and nothing runs", async () => {
    const marker = path.join(scratch, "stranger-ran");
    expect(await codeOf(as(newToken()).run({ argv: ["/usr/bin/touch", marker] }))).toBe("UNAUTHENTICATED");
    expect(await codeOf(as(newToken()).inspect({ ref: netOf(target.pid) }))).toBe("UNAUTHENTICATED");
    expect(await codeOf(as("not a token").inspect({ ref: netOf(target.pid) }))).toBe("UNAUTHENTICATED");
    expect(existsSync(marker)).toBe(false);
    // root over the unix socket holds every scope when the policy does not say otherwise
    expect((await as(undefined).run({ argv: ["/usr/bin/true"] })).exit).toEqual({ code: 0 });
  });

  it("handles belong to the identity that made them, with a cap per identity", async () => {
    const admin = as(tokens.admin);
    const other = as(tokens.other);
    const { handle } = await admin.open({ ref: netOf(target.pid) });
    const byHandle = { ref: { source: { case: "handle" as const, value: handle!.id } } };
    expect(await reasonOf(other.inspect(byHandle))).toBe("PERMISSION_DENIED HANDLE_NOT_YOURS");
    expect(await reasonOf(other.close({ handle: handle!.id }))).toBe("PERMISSION_DENIED HANDLE_NOT_YOURS");
    expect(await reasonOf(as(tokens.reader).inspect(byHandle))).toBe("PERMISSION_DENIED HANDLE_NOT_YOURS");
    expect((await admin.inspect(byHandle)).info!.nsId).toBe(nsInode(target.pid, "net"));

    const second = await admin.open({ ref: netOf(target.pid) });
    const third = await admin.open({ ref: netOf(target.pid) }).catch((e: unknown) => e);
    expect((third as LxnsdError).code).toBe(status.RESOURCE_EXHAUSTED);
    expect((third as LxnsdError).reason).toBe("HANDLE_LIMIT_PER_IDENTITY");
    const others = await other.open({ ref: netOf(target.pid) });
    await other.close({ handle: others.handle!.id });
    await admin.close({ handle: handle!.id });
    await admin.close({ handle: second.handle!.id });
    expect(daemon.daemon.handles.size).toBe(0);
  });

  it("every call that changes anything leaves one audit line, allowed or refused; reads leave none", async () => {
    logs.lines.length = 0;
    await as(tokens.runner).run({ join: [netOf(target.pid)], argv: ["/usr/bin/true"] });
    await codeOf(as(tokens.reader).run({ join: [netOf(target.pid)], argv: ["/usr/bin/true"] }));
    await codeOf(as(newToken()).unshare({ types: [NamespaceType.UTS] }));
    await as(tokens.reader).inspect({ ref: netOf(target.pid) });
    const audits = logs.lines.filter((line) => line.audit).map((line) => line.audit);
    const peer = { pid: process.pid, uid: 0, gid: process.getgid!(), groups: expect.any(Array) };
    const argv = ["/usr/bin/true"];
    expect(audits).toEqual([
      { identity: "runner", peer, method: "ProcessService/Run", targets: [`net pid=${target.pid}`], argv, outcome: "OK" },
      { identity: "reader", peer, method: "ProcessService/Run", targets: [`net pid=${target.pid}`], argv, outcome: "PERMISSION_DENIED" },
      // Refused at its headers (rpc/identify-first.ts): its message was never read, so the line has its peer but no types.
      { identity: expect.stringMatching(/^unauthenticated unix:pid=\d+,uid=0,gid=\d+,groups=[\d+]*$/), peer, method: "NamespaceService/Unshare", targets: [], outcome: "UNAUTHENTICATED" },
    ]);
  });

  it("over an --insecure-loopback TCP listener a policy needs a token: none is UNAUTHENTICATED", async () => {
    const policy = writePolicy({ identities: [{ name: "reader", scopes: ["read"], tokens: [tokenHash(tokens.reader)] }] });
    const tcp = new Daemon(defaultConfig({ listen: ["127.0.0.1:0"], insecureLoopback: true, policyFile: policy }), pino({ level: "silent" }));
    const [address] = await tcp.start();
    const anonymous = createClient(address);
    const reader = createClient(address, { token: tokens.reader });
    try {
      expect(await codeOf(anonymous.inspect({ ref: netOf(target.pid) }))).toBe("UNAUTHENTICATED");
      expect((await reader.inspect({ ref: netOf(target.pid) })).info!.nsId).toBe(nsInode(target.pid, "net"));
    } finally {
      anonymous.disconnect();
      reader.disconnect();
      await tcp.stop(1000);
    }
  });
});
