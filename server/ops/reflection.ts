import { toBinary } from "@bufbuild/protobuf";
import type { DescFile, DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { Server } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import type { PackageDefinition, ProtobufTypeDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { protoPath as healthProtoPath } from "grpc-health-check";

/** `file` and everything it imports, each once. */
function withDependencies(file: DescFile, into: Map<string, DescFile>): void {
  if (into.has(file.proto.name)) return;
  into.set(file.proto.name, file);
  for (const dependency of file.dependencies) withDependencies(dependency, into);
}

/**
 * The descriptors of `services` as @grpc/reflection reads a package
 * definition: it only looks at each entry's `fileDescriptorProtos`. We give
 * it the FileDescriptorProtos compiled into api/gen (protoc-gen-es embeds
 * them), one entry per file, rather than a proto-loader definition: proto-
 * loader re-encodes files per package and loses their names and boundaries
 * (file_by_filename "lxnsd/v1/types.proto" would find nothing).
 */
function packageOf(services: DescService[]): PackageDefinition {
  const files = new Map<string, DescFile>();
  for (const service of services) withDependencies(service.file, files);
  const definition: Record<string, ProtobufTypeDefinition> = {};
  for (const [name, file] of files) {
    definition[name] = { format: "Protocol Buffer 3 FileDescriptorProto", type: {}, fileDescriptorProtos: [Buffer.from(toBinary(FileDescriptorProtoSchema, file.proto))] };
  }
  return definition as PackageDefinition;
}

/**
 * grpc.reflection.v1 (and v1alpha) answering for the lxnsd.v1 services and
 * grpc.health.v1.Health, so grpcurl and similar tools can list, describe and
 * call them without the .proto files, exactly as the server serves them.
 */
export function addReflection(server: Server, services: DescService[]): void {
  new ReflectionService({ ...packageOf(services), ...loadSync(healthProtoPath) }).addToServer(server);
}
