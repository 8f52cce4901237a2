import { Client, credentials, Metadata } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import type { DescMessage, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { methodDefinition } from "../../api/method-definitions";
import { ImageService, RuntimeService } from "./cri-gen/runtime/v1/api_pb";

/** The CRI methods the test harness may call (test/helpers/cri-gen holds only these). */
export const CRI = { ...RuntimeService.method, ...ImageService.method };

/**
 * A plain CRI client for tests, over the harness's own generated code
 * (test/helpers/cri-gen): it makes and removes pods and containers, which the
 * daemon's read-only CriRuntime cannot.
 */
export class CriTestClient {
  private readonly client: Client;

  constructor(readonly endpoint: string) {
    this.client = new Client(endpoint, credentials.createInsecure(), {
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 500,
    });
  }

  /** Calls `method` (one of {@link CRI}); rejects with the ServiceError, its message prefixed by the method's name. */
  call<I extends DescMessage, O extends DescMessage>(method: DescMethodUnary<I, O>, request: MessageInitShape<I>, timeoutMs = 60_000): Promise<MessageShape<O>> {
    const definition = methodDefinition(method);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize as (bytes: Buffer) => MessageShape<O>,
        request,
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err: ServiceError | null, answer?: MessageShape<O>) => {
          if (err) {
            err.message = `CRI ${method.name}: ${err.message}`;
            reject(err);
          } else resolve(answer as MessageShape<O>);
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
