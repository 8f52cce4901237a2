import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { makeTestPki } from "../helpers/certificates";
import type { TestPki } from "../helpers/certificates";
import { captureCli } from "../helpers/cli";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { spawnDaemon } from "../helpers/daemon-process";
import { newToken, tokenHash, writePolicy } from "../helpers/policy";
import { describeRoot } from "../helpers/privileged";
import { nsInode } from "../helpers/proc";

describeRoot("lxnsctl credentials", () => {
  const token = newToken();
  let daemon: TestDaemon;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-cli-auth-"));
    const policy = writePolicy({ "unix-owner-scopes": [], identities: [{ name: "cli", scopes: ["read"], tokens: [tokenHash(token)] }] });
    daemon = await startDaemon({ policyFile: policy });
  });

  afterAll(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sends the token from --token-file or LXNSD_TOKEN, and reports UNAUTHENTICATED without one", async () => {
    const file = path.join(dir, "token");
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    const inspect = ["inspect", "-t", String(process.pid), "--net"];
    const byFile = await captureCli(["--address", daemon.address, "--token-file", file, ...inspect]);
    expect(byFile.stderr).toBe("");
    expect(byFile.stdout).toContain(String(nsInode("self", "net")));
    const byEnv = await captureCli(["--address", daemon.address, ...inspect], { env: { LXNSD_TOKEN: token } });
    expect(byEnv.code).toBe(0);
    const without = await captureCli(["--address", daemon.address, ...inspect], { env: {} });
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(/^lxnsctl: UNAUTHENTICATED: /);
    const missing = await captureCli(["--address", daemon.address, "--token-file", path.join(dir, "none"), ...inspect]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read --token-file .*none/);
  });

  it("connects with mutual TLS from --tls-ca, --tls-cert and --tls-key", async () => {
    const pki: TestPki = await makeTestPki();
    const policy = writePolicy({ identities: [{ name: "runner", scopes: ["read"], certificates: ["CN=runner"] }] });
    const tls = spawnDaemon(["--listen", "127.0.0.1:0", "--tls-cert", pki.serverCert, "--tls-key", pki.serverKey, "--tls-client-ca", pki.caCert, "--policy", policy]);
    try {
      const [address] = await tls.ready;
      const inspect = ["inspect", "-t", String(process.pid), "--net"];
      const ok = await captureCli(["--address", address, "--tls-ca", pki.caCert, "--tls-cert", pki.clientCert, "--tls-key", pki.clientKey, ...inspect]);
      expect(ok.stderr).toBe("");
      expect(ok.stdout).toContain(String(nsInode("self", "net")));
      const byEnv = await captureCli(["--address", address, ...inspect], {
        env: { LXNSD_TLS_CA: pki.caCert, LXNSD_TLS_CERT: pki.clientCert, LXNSD_TLS_KEY: pki.clientKey },
      });
      expect(byEnv.code).toBe(0);
    } finally {
      await tls.stop();
      rmSync(pki.dir, { recursive: true, force: true });
    }
  });
});
