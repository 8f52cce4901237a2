import * as path from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { credentials, loadPackageDefinition, status } from "@grpc/grpc-js";
import type { Client, ClientReadableStream, ServiceClientConstructor } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { service as healthService } from "grpc-health-check";
import { captureCli } from "../helpers/cli";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";

const SERVICES = ["lxnsd.v1.NamespaceService", "lxnsd.v1.ProcessService", "lxnsd.v1.MountService", "lxnsd.v1.ContainerService"];

/** A grpc.reflection client (v1, or v1alpha as older grpcurl speaks), from the proto files @grpc/reflection ships. */
function reflectionClient(address: string, version: "v1" | "v1alpha" = "v1"): Client & { ServerReflectionInfo(): NodeJS.ReadWriteStream } {
  const protoFile = path.join(path.dirname(require.resolve("@grpc/reflection")), "..", "proto", "grpc", "reflection", version, "reflection.proto");
  const pkg = loadPackageDefinition(loadSync(protoFile, { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true })) as unknown as {
    grpc: { reflection: Record<string, { ServerReflection: ServiceClientConstructor }> };
  };
  return new pkg.grpc.reflection[version].ServerReflection(address, credentials.createInsecure()) as never;
}

interface ReflectionResponse {
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

/** Sends one ServerReflectionRequest and returns the answer. */
async function reflect(client: ReturnType<typeof reflectionClient>, request: Record<string, string>): Promise<ReflectionResponse> {
  const stream = client.ServerReflectionInfo();
  const answer = new Promise<ReflectionResponse>((resolve, reject) => {
    stream.once("data", resolve);
    stream.once("error", reject);
  });
  stream.write(request as never);
  stream.end();
  return answer;
}

function files(response: ReflectionResponse): FileDescriptorProto[] {
  return (response.file_descriptor_response?.file_descriptor_proto ?? []).map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
}

describe("grpc.health.v1 and server reflection", () => {
  let d: TestDaemon;

  beforeEach(async () => {
    d = await startDaemon();
  });
  afterEach(async () => {
    await d.stop();
  });

  it("answers SERVING for the daemon and each lxnsd.v1 service, NOT_FOUND for another name", async () => {
    expect(await d.client.checkHealth()).toBe("SERVING");
    for (const service of SERVICES) expect(await d.client.checkHealth(service)).toBe("SERVING");
    await expect(d.client.checkHealth("lxnsd.v1.NoSuchService")).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it("lxnsctl health prints the status and exits 0 when SERVING, 1 for an unknown service", async () => {
    expect(await captureCli(["--address", d.address, "health"])).toEqual({ code: 0, stdout: "SERVING\n", stderr: "" });
    expect(await captureCli(["--address", d.address, "--json", "health", "lxnsd.v1.ProcessService"])).toMatchObject({ code: 0, stdout: '{\n  "status": "SERVING"\n}\n' });
    const unknown = await captureCli(["--address", d.address, "health", "lxnsd.v1.Nope"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^lxnsctl: NOT_FOUND: /);
  });

  it("lxnsctl health exits 1 for NOT_SERVING and for a daemon that is not there", async () => {
    d.daemon.health.set(false);
    expect(await captureCli(["--address", d.address, "health"])).toEqual({ code: 1, stdout: "NOT_SERVING\n", stderr: "" });
    const nowhere = await captureCli(["--address", `${d.address}.missing`, "--timeout", "2000", "health"]);
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toMatch(/^lxnsctl: (UNAVAILABLE|DEADLINE_EXCEEDED): /);
  });

  it("tells a Watch caller NOT_SERVING as soon as the daemon starts draining", async () => {
    const Health = (await import("@grpc/grpc-js")).makeGenericClientConstructor(healthService as never, "Health");
    const client = new Health(d.address, credentials.createInsecure()) as unknown as { Watch(req: { service: string }): ClientReadableStream<{ status: string }>; close(): void };
    const watch = client.Watch({ service: "lxnsd.v1.ProcessService" });
    const seen: string[] = [];
    const notServing = new Promise<void>((resolve) => {
      watch.on("data", (message: { status: string }) => {
        seen.push(message.status);
        if (message.status === "SERVING") void d.daemon.stop(200); // the watch itself is in flight: stop() cancels it after the grace
        if (message.status === "NOT_SERVING") resolve();
      });
    });
    // past the 200 ms grace the stream is cut and its connection closed (the daemon keeps nothing open)
    const ended = new Promise<void>((resolve) => {
      watch.on("error", () => resolve());
      watch.on("end", () => resolve());
    });
    await notServing;
    expect(seen).toEqual(["SERVING", "NOT_SERVING"]);
    await ended;
    client.close();
  });

  it.each(["v1", "v1alpha"] as const)("lists the lxnsd.v1 services and grpc.health.v1.Health (%s)", async (version) => {
    const client = reflectionClient(d.address, version);
    try {
      const response = await reflect(client, { list_services: "*" });
      const names = response.list_services_response!.service.map((s) => s.name).sort();
      expect(names).toEqual(["grpc.health.v1.Health", ...SERVICES].sort());
      const health = files(await reflect(client, { file_containing_symbol: "grpc.health.v1.Health" }));
      expect(health[0].service[0].method.map((m) => m.name)).toEqual(expect.arrayContaining(["Check", "Watch"]));
    } finally {
      client.close();
    }
  });

  it("resolves a symbol to its file and imports, with the contract's methods and field numbers", async () => {
    const client = reflectionClient(d.address);
    try {
      const byService = files(await reflect(client, { file_containing_symbol: "lxnsd.v1.ProcessService" }));
      expect(byService.map((f) => f.name)).toEqual(expect.arrayContaining(["lxnsd/v1/process_service.proto", "lxnsd/v1/types.proto", "google/protobuf/duration.proto"]));
      const exec = byService.find((f) => f.name === "lxnsd/v1/process_service.proto")!.service[0].method.find((m) => m.name === "Exec")!;
      expect(exec).toMatchObject({ inputType: ".lxnsd.v1.ExecRequest", outputType: ".lxnsd.v1.ExecResponse", clientStreaming: true, serverStreaming: true });

      const byMessage = files(await reflect(client, { file_containing_symbol: "lxnsd.v1.NamespaceRef" }));
      const ref = byMessage.find((f) => f.name === "lxnsd/v1/types.proto")!.messageType.find((m) => m.name === "NamespaceRef")!;
      expect(ref.field.map((f) => [f.name, f.number])).toEqual([["type", 1], ["pid", 2], ["self", 3], ["handle", 4], ["path", 5], ["container", 7], ["relation", 6]]);

      const byName = files(await reflect(client, { file_by_filename: "lxnsd/v1/namespace_service.proto" }));
      expect(byName[0].service[0].name).toBe("NamespaceService");

      const unknown = await reflect(client, { file_containing_symbol: "lxnsd.v1.Nope" });
      expect(unknown.error_response?.error_code).toBe(status.NOT_FOUND);
    } finally {
      client.close();
    }
  });
});
