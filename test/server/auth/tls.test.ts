import { rmSync } from "node:fs";
import { NamespaceType, createClient } from "../../../client";
import type { ClientOptions, LxnsdClient } from "../../../client";
import { makeTestPki } from "../../helpers/certificates";
import type { TestPki } from "../../helpers/certificates";
import { spawnDaemon } from "../../helpers/daemon-process";
import type { DaemonProcess } from "../../helpers/daemon-process";
import { codeOf, reasonOf } from "../../helpers/outcome";
import { writePolicy } from "../../helpers/policy";
import { describeRoot } from "../../helpers/privileged";
import { nsInode } from "../../helpers/proc";

const selfNet = { type: NamespaceType.NET, source: { case: "pid" as const, value: process.pid } };

describeRoot("TCP with mutual TLS", () => {
  let pki: TestPki;
  let daemon: DaemonProcess;
  let address: string;
  const clients: LxnsdClient[] = [];
  const connect = (options: ClientOptions): LxnsdClient => {
    const client = createClient(address, options);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    pki = await makeTestPki();
    const policy = writePolicy(
      ["identities:", "  - name: runner", "    scopes: [read, exec]", '    certificates: ["URI:spiffe://test/runner"]', ""].join("\n"),
      "policy.yaml",
    );
    daemon = spawnDaemon(["--listen", "127.0.0.1:0", "--tls-cert", pki.serverCert, "--tls-key", pki.serverKey, "--tls-client-ca", pki.caCert, "--policy", policy]);
    [address] = await daemon.ready;
  });

  afterAll(async () => {
    clients.forEach((client) => client.disconnect());
    await daemon?.stop();
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  it("a client certificate the policy names gets its scopes", async () => {
    const client = connect({ tls: { ca: pki.read(pki.caCert), cert: pki.read(pki.clientCert), key: pki.read(pki.clientKey) } });
    expect((await client.inspect({ ref: selfNet })).info!.nsId).toBe(nsInode(process.pid, "net"));
    expect((await client.run({ argv: ["/bin/echo", "over tls"] })).stdout.toString()).toBe("over tls\n");
    expect(await reasonOf(client.unshare({ types: [NamespaceType.UTS] }))).toBe("PERMISSION_DENIED SCOPE_MISSING");
  });

  it("a certificate of the CA that the policy does not name is UNAUTHENTICATED", async () => {
    const client = connect({ tls: { ca: pki.read(pki.caCert), cert: pki.read(pki.unknownCert), key: pki.read(pki.unknownKey) } });
    expect(await codeOf(client.inspect({ ref: selfNet }))).toBe("UNAUTHENTICATED");
  });

  it("refuses a client without a certificate, one of another CA, and plaintext", async () => {
    const noCert = connect({ tls: { ca: pki.read(pki.caCert) }, channelOptions: { "grpc.initial_reconnect_backoff_ms": 100 } });
    const foreign = connect({ tls: { ca: pki.read(pki.caCert), cert: pki.read(pki.strangerCert), key: pki.read(pki.strangerKey) } });
    const plaintext = connect({});
    for (const client of [noCert, foreign, plaintext]) {
      expect(await codeOf(client.inspect({ ref: selfNet }, { timeoutMs: 3000 }))).toMatch(/^(UNAVAILABLE|DEADLINE_EXCEEDED)$/);
    }
    // the daemon still serves the good client
    const good = connect({ tls: { ca: pki.read(pki.caCert), cert: pki.read(pki.clientCert), key: pki.read(pki.clientKey) } });
    expect(await codeOf(good.inspect({ ref: selfNet }))).toBe("OK");
  });

  it("refuses to start TLS without a client CA, and TLS files it cannot read", async () => {
    const noCa = spawnDaemon(["--listen", "127.0.0.1:0", "--tls-cert", pki.serverCert, "--tls-key", pki.serverKey]);
    expect(await noCa.exited).toBe(1);
    expect(noCa.stderr()).toMatch(/mutual TLS is required, give --tls-client-ca/);
    const missing = spawnDaemon(["--listen", "127.0.0.1:0", "--tls-cert", "/nonexistent.crt", "--tls-key", pki.serverKey, "--tls-client-ca", pki.caCert]);
    expect(await missing.exited).toBe(1);
    expect(missing.stderr()).toMatch(/cannot read --tls-cert \/nonexistent\.crt/);
    const half = spawnDaemon(["--listen", "127.0.0.1:0", "--tls-cert", pki.serverCert]);
    expect(await half.exited).toBe(2);
    expect(half.stderr()).toMatch(/--tls-cert and --tls-key go together/);
  });
});
