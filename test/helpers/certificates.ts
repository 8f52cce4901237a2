import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** PEM files of a test PKI, made with openssl. */
export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** Client certificate CN=runner, SAN URI:spiffe://test/runner, signed by the CA. */
  clientCert: string;
  clientKey: string;
  /** A client certificate CN=unknown, signed by the CA, that no policy names. */
  unknownCert: string;
  unknownKey: string;
  /** A client certificate CN=stranger signed by another CA. */
  strangerCert: string;
  strangerKey: string;
  read(file: string): Buffer;
}

async function makeCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", `/CN=${name}`, "-keyout", key, "-out", cert]);
  return { cert, key };
}

async function issue(dir: string, ca: { cert: string; key: string }, name: string, subject: string, san: string): Promise<{ cert: string; key: string }> {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.crt`);
  const ext = path.join(dir, `${name}.ext`);
  writeFileSync(ext, `subjectAltName=${san}\n`);
  await run("openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", subject, "-keyout", key, "-out", csr]);
  await run("openssl", ["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert]);
  return { cert, key };
}

/** A CA, a server certificate for 127.0.0.1/localhost, a client certificate, and a client certificate of a foreign CA. */
export async function makeTestPki(): Promise<TestPki> {
  const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-pki-"));
  const ca = await makeCa(dir, "lxnsd-test-ca");
  const other = await makeCa(dir, "other-ca");
  const server = await issue(dir, ca, "server", "/CN=lxnsd", "IP:127.0.0.1,DNS:localhost");
  const client = await issue(dir, ca, "client", "/CN=runner", "URI:spiffe://test/runner");
  const unknown = await issue(dir, ca, "unknown", "/CN=unknown", "DNS:unknown");
  const stranger = await issue(dir, other, "stranger", "/CN=stranger", "DNS:stranger");
  return {
    dir,
    caCert: ca.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    unknownCert: unknown.cert,
    unknownKey: unknown.key,
    strangerCert: stranger.cert,
    strangerKey: stranger.key,
    read: (file) => readFileSync(file),
  };
}
