import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ExecResponseSchema, FileService, NamespaceService, ProcessService, ReadFileResponseSchema } from "../../client";
import { serviceDefinition } from "../../api/method-definitions";
import { serverServiceDefinition } from "../../server/rpc/response-serializer";

describe("serverServiceDefinition", () => {
  const exec = serverServiceDefinition(ProcessService).exec;
  const bytes = (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = (i * 7 + n) % 256;
    return out;
  };
  /** The bytes of an ExecResponse chunk, as a plain Buffer to compare. */
  const chunkOf = (encoded: Uint8Array) => {
    const msg = fromBinary(ExecResponseSchema, encoded).msg;
    return { case: msg.case, bytes: Buffer.from(msg.value as Uint8Array) };
  };

  it.each([0, 1, 127, 128, 16383, 16384, 65536, 1024 * 1024])("encodes a %i-byte stdout or stderr chunk exactly as toBinary does", (n) => {
    for (const tag of ["stdout", "stderr"] as const) {
      const init = { msg: { case: tag, value: bytes(n) } };
      const ours = Buffer.from(exec.responseSerialize(init));
      expect(ours.equals(Buffer.from(toBinary(ExecResponseSchema, create(ExecResponseSchema, init))))).toBe(true);
      const chunk = chunkOf(ours);
      expect(chunk.case).toBe(tag);
      expect(chunk.bytes.equals(bytes(n))).toBe(true);
    }
  });

  it("encodes other responses (started, exit, chunks over 1 MiB) with toBinary, each into a buffer of its own", () => {
    const started = exec.responseSerialize({ msg: { case: "started", value: { pid: 42 } } });
    const exit = exec.responseSerialize({ msg: { case: "exit", value: { status: { case: "code", value: 3 } } } });
    const big = exec.responseSerialize({ msg: { case: "stdout", value: bytes(1024 * 1024 + 1) } });
    expect(fromBinary(ExecResponseSchema, started).msg).toEqual({ case: "started", value: expect.objectContaining({ pid: 42 }) });
    expect(fromBinary(ExecResponseSchema, exit).msg.case).toBe("exit");
    expect(chunkOf(big).bytes.equals(bytes(1024 * 1024 + 1))).toBe(true);
    expect(big.buffer).not.toBe(exec.responseSerialize({ msg: { case: "stdout", value: bytes(1) } }).buffer);
  });

  it("reuses one scratch buffer for chunks: what grpc-js copies at once is overwritten by the next", () => {
    const first = exec.responseSerialize({ msg: { case: "stdout", value: bytes(10) } });
    const copy = Buffer.from(first);
    exec.responseSerialize({ msg: { case: "stderr", value: bytes(12) } });
    expect(first.buffer).toBe(exec.responseSerialize({ msg: { case: "stdout", value: bytes(1) } }).buffer);
    expect(chunkOf(copy)).toEqual({ case: "stdout", bytes: Buffer.from(bytes(10)) });
    expect(Buffer.from(first).equals(copy)).toBe(false);
  });

  describe("a response of one bytes field (ReadFileResponse)", () => {
    const readFile = serverServiceDefinition(FileService).readFile;

    it.each([0, 1, 127, 128, 16383, 16384, 65536, 1024 * 1024])("encodes %i bytes of data exactly as toBinary does", (n) => {
      const init = { data: bytes(n) };
      const ours = Buffer.from(readFile.responseSerialize(init));
      expect(ours.equals(Buffer.from(toBinary(ReadFileResponseSchema, create(ReadFileResponseSchema, init))))).toBe(true);
      expect(Buffer.from(fromBinary(ReadFileResponseSchema, ours).data).equals(bytes(n))).toBe(true);
    });

    it("encodes data into the shared scratch buffer, not a buffer of its own per message", () => {
      const first = readFile.responseSerialize({ data: bytes(65536) });
      expect(readFile.responseSerialize({ data: bytes(10) }).buffer).toBe(first.buffer);
      expect(exec.responseSerialize({ msg: { case: "stdout", value: bytes(1) } }).buffer).toBe(first.buffer);
    });

    it("encodes data over 1 MiB, and a message made with create, with toBinary", () => {
      const big = readFile.responseSerialize({ data: bytes(1024 * 1024 + 1) });
      expect(Buffer.from(fromBinary(ReadFileResponseSchema, big).data).equals(bytes(1024 * 1024 + 1))).toBe(true);
      const made = create(ReadFileResponseSchema, { data: bytes(300) });
      expect(Buffer.from(readFile.responseSerialize(made)).equals(Buffer.from(toBinary(ReadFileResponseSchema, made)))).toBe(true);
    });
  });

  it("leaves methods whose responses are not a bytes oneof as the client's definition has them", () => {
    const ours = serverServiceDefinition(NamespaceService);
    const theirs = serviceDefinition(NamespaceService);
    expect(Object.keys(ours)).toEqual(Object.keys(theirs));
    expect(ours.inspect.path).toBe(theirs.inspect.path);
    expect(exec.path).toBe("/lxnsd.v1.ProcessService/Exec");
    expect(exec.responseDeserialize).toBeDefined();
  });
});
