import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType, createClient, status } from "../../../client";
import type { LxnsdClient } from "../../../client";
import { makeCgroup } from "../../helpers/cgroup";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { newToken, tokenHash, writePolicy } from "../../helpers/policy";
import { describeRoot } from "../../helpers/privileged";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";

const token = newToken();
const ref = (type: NamespaceType, pid: number) => ({ type, source: { case: "pid" as const, value: pid } });

async function* oneShot(header: object, data: string) {
  yield { msg: { case: "header" as const, value: header } };
  yield { msg: { case: "data" as const, value: Buffer.from(data) } };
}

async function read(client: LxnsdClient, pid: number, file: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const { data } of client.readFile({ mount: ref(NamespaceType.MNT, pid), path: file })) chunks.push(Buffer.from(data));
  return Buffer.concat(chunks).toString();
}

describeRoot("FileService and sysctls for an identity with target rules: as its target", () => {
  let daemon: TestDaemon;
  let pods: LxnsdClient;
  let inside: Target;
  let outside: Target;
  let cgroup: ReturnType<typeof makeCgroup>;
  let dir: string;
  const inTarget = (script: string) => execFileSync("nsenter", ["-t", String(inside.pid), "-m", "sh", "-c", script], { encoding: "utf8" });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-files-restricted-"));
    cgroup = makeCgroup(`lxnsd-files-${process.pid}-${Date.now()}`);
    const setup = [
      `mount -t tmpfs -o mode=0755 none ${dir}`,
      `echo root only > ${dir}/root-only && chmod 0600 ${dir}/root-only`,
      `mkdir ${dir}/root-dir && chmod 0755 ${dir}/root-dir && mkdir ${dir}/private && chmod 0700 ${dir}/private`,
      `mkdir ${dir}/mine && chown 1000:1000 ${dir}/mine && echo mine > ${dir}/mine/file && chown 1000:1000 ${dir}/mine/file`,
      'exec setpriv --reuid 1000 --regid 1000 --clear-groups --inh-caps=-all --bounding-set=-all "$@"',
    ].join(" && ");
    inside = await startTarget(["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", setup, "sh"]);
    cgroup.add(inside.pid);
    outside = await startTarget(["unshare", "--mount", "--net"]);
    const policy = writePolicy({ identities: [{ name: "pods", scopes: ["read", "exec", "admin"], tokens: [tokenHash(token)], targets: { "cgroup-prefixes": [cgroup.path] } }] });
    daemon = await startDaemon({ policyFile: policy });
    pods = createClient(daemon.address, { token });
  });
  afterAll(async () => {
    pods?.disconnect();
    await Promise.all([inside, outside].map((target) => target?.kill()));
    await daemon?.stop();
    cgroup?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads only what the target could read", async () => {
    expect(await read(pods, inside.pid, `${dir}/mine/file`)).toBe("mine\n");
    await expect(read(pods, inside.pid, `${dir}/root-only`)).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    await expect(read(pods, inside.pid, `${dir}/private/x`)).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    const list = async (file: string) => {
      for await (const _ of pods.listDirectory({ mount: ref(NamespaceType.MNT, inside.pid), path: file })) void _;
    };
    await expect(list(`${dir}/private`)).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    // The daemon's own identity reads it all: the refusals above are the target's credentials at work.
    const root = createClient(daemon.address);
    try {
      expect(await read(root, inside.pid, `${dir}/root-only`)).toBe("root only\n");
    } finally {
      root.disconnect();
    }
  });

  it("writes as the target: its files are the target's, elsewhere PERMISSION_DENIED, no chown to root", async () => {
    const mount = ref(NamespaceType.MNT, inside.pid);
    await pods.writeFile(oneShot({ mount, path: `${dir}/mine/new` }, "new\n"));
    expect(inTarget(`cat ${dir}/mine/new; stat -c '%u %g' ${dir}/mine/new`)).toBe("new\n1000 1000\n");
    await expect(pods.writeFile(oneShot({ mount, path: `${dir}/root-dir/x` }, "x"))).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    await expect(pods.writeFile(oneShot({ mount, path: `${dir}/root-only` }, "x"))).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    await expect(pods.writeFile(oneShot({ mount, path: `${dir}/mine/chowned`, uid: 0 }, "x"))).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    expect(inTarget(`cat ${dir}/root-only; ls -a ${dir}/root-dir ${dir}/mine`)).toBe(`root only\n${dir}/mine:\n.\n..\nfile\nnew\n\n${dir}/root-dir:\n.\n..\n`);
  });

  it("refuses processes outside its cgroups, and sets sysctls only as its target could", async () => {
    const denied = read(pods, outside.pid, "/etc/hostname");
    await expect(denied).rejects.toMatchObject({ code: status.PERMISSION_DENIED, reason: "TARGET_FORBIDDEN" });
    await expect(pods.getSysctl({ ref: ref(NamespaceType.NET, outside.pid), name: "net.ipv4.ip_forward" })).rejects.toMatchObject({ reason: "TARGET_FORBIDDEN" });
    expect((await pods.getSysctl({ ref: ref(NamespaceType.NET, inside.pid), name: "net.ipv4.ip_forward" })).value).toMatch(/^[01]$/);
    // uid 1000 without capabilities cannot write /proc/sys/net.
    await expect(pods.setSysctl({ ref: ref(NamespaceType.NET, inside.pid), name: "net.ipv4.ip_forward", value: "1" })).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    expect(readFileSync(`/proc/${inside.pid}/root/proc/sys/net/ipv4/ip_forward`, "utf8").length).toBeGreaterThan(0);
  });
});
