import { create, toBinary } from "@bufbuild/protobuf";
import type { DescFile, DescService } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { Server } from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer, loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { protoPath as healthProtoPath } from "grpc-health-check";

/** `file` and everything it imports, imports first, each once. */
function withDependencies(file: DescFile, into: Map<string, DescFile>): void {
  if (into.has(file.proto.name)) return;
  for (const dependency of file.dependencies) withDependencies(dependency, into);
  into.set(file.proto.name, file);
}

/**
 * grpc.reflection.v1 (and v1alpha) answering for the lxnsd.v1 services and
 * grpc.health.v1.Health, so grpcurl and similar tools can list, describe and
 * call them without the .proto files. The lxnsd.v1 descriptors are the ones
 * compiled into client/gen (protoc-gen-es embeds each FileDescriptorProto),
 * so what reflection says is exactly what the server serves.
 */
export function addReflection(server: Server, services: DescService[]): void {
  const files = new Map<string, DescFile>();
  for (const service of services) withDependencies(service.file, files);
  const set = create(FileDescriptorSetSchema, { file: [...files.values()].map((file) => file.proto) });
  const lxnsd = loadFileDescriptorSetFromBuffer(Buffer.from(toBinary(FileDescriptorSetSchema, set)));
  const health = loadSync(healthProtoPath);
  new ReflectionService({ ...lxnsd, ...health }).addToServer(server);
}
