import type { Socket } from "node:net";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Server } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { ProcessService as ProcessServiceDesc } from "../../api/gen/lxnsd/v1/process_service_pb";
import type { ExecRequest, ExecResponseSchema, RunRequest } from "../../api/gen/lxnsd/v1/process_service_pb";
import { asRpcError, invalidArgument } from "../errors";
import { checkTerminalSize, planExec } from "../programs/exec-plan";
import type { Terminal } from "../../native/lib";
import type { NamespaceResolver } from "../namespaces/resolver";
import { mergeReadables } from "../programs/merge-readables";
import { DEFAULT_MAX_OUTPUT, largestOutputCap } from "../programs/output-limits";
import { startProgram } from "../programs/session";
import type { ProgramOptions, ProgramSession } from "../programs/session";
import { addService } from "../rpc/add-service";
import type { RpcHooks } from "../rpc/add-service";
import { addDetails, specDetails } from "../rpc/audit";
import { refTargets } from "../rpc/ref-targets";
import type { CallContext, ServiceImpl } from "../rpc/service-impl";
import type { DaemonIds } from "../namespaces/unshare-plan";

const MAX_SIGNAL = 64;

type ExecResponseInit = MessageInitShape<typeof ExecResponseSchema>;

/** What the process service needs from the daemon. */
export interface ProcessServiceDeps {
  resolver: NamespaceResolver;
  ids: DaemonIds;
  /** The daemon's --max-message-bytes: a Run answer (both outputs) must fit in one message. */
  maxMessageBytes: number;
  /** --child-timeout, the programs' cgroup parent. */
  programs: ProgramOptions;
}

/** lxnsd.v1.ProcessService: nsenter and unshare running a program, over gRPC. */
export class ProcessService implements ServiceImpl<typeof ProcessServiceDesc> {
  constructor(private readonly deps: ProcessServiceDeps) {}

  /** Registers this service on `server`. */
  addTo(server: Server, hooks: RpcHooks): void {
    addService(server, ProcessServiceDesc, this as unknown as Record<string, unknown>, hooks);
  }

  async run(request: RunRequest, context: CallContext) {
    if (request.spec?.tty) throw invalidArgument("spec.tty: a terminal needs Exec (Run has no stream to carry it)");
    const cap = request.maxOutputBytes === 0 ? DEFAULT_MAX_OUTPUT : request.maxOutputBytes;
    const largest = largestOutputCap(this.deps.maxMessageBytes);
    if (cap > largest) {
      throw invalidArgument(
        `max_output_bytes: at most ${largest} per stream: stdout and stderr of one answer must fit in --max-message-bytes ${this.deps.maxMessageBytes}`,
      );
    }
    // The addon reads the output (to EOF, keeping `cap` bytes of each stream): no socket per pipe.
    const session = await this.start(request.spec, context, request.stdin, cap);
    try {
      const exit = await session.exited;
      const output = await session.output!;
      session.checkStopped();
      return { stdout: output.stdout, stderr: output.stderr, exit, truncated: output.truncated };
    } finally {
      session.dispose();
    }
  }

  async *exec(requests: AsyncIterable<ExecRequest>, context: CallContext): AsyncGenerator<ExecResponseInit> {
    const input = requests[Symbol.asyncIterator]();
    const first = await input.next();
    if (first.done || first.value.msg.case !== "spec") throw invalidArgument("the first message must carry spec");
    context.targets.push(...refTargets(first.value.msg.value));
    addDetails(context.audit, specDetails(first.value.msg.value));
    await this.deps.resolver.prepare(first.value.msg.value, context.caller);
    const session = await this.start(first.value.msg.value, context);
    const pump = session.terminal ? pumpTerminalInput(input, session, session.terminal) : pumpInput(input, session);
    pump.catch((err: unknown) => session.stop(asRpcError(err)));
    try {
      yield { msg: { case: "started", value: { pid: session.pid } } };
      for await (const { tag, chunk } of readOutput(session)) yield { msg: { case: tag, value: chunk } };
      const exit = await session.exited;
      session.checkStopped();
      yield { msg: { case: "exit", value: exit } };
    } finally {
      session.dispose();
    }
  }

  private async start(spec: RunRequest["spec"], context: CallContext, stdin?: Uint8Array, collectOutput?: number): Promise<ProgramSession> {
    const plan = planExec(spec, this.deps.resolver, this.deps.ids, context.caller);
    const session = await startProgram(plan, this.deps.programs, context.signal, stdin, collectOutput);
    if (context.logs("info")) context.log.info({ pid: session.pid, argv: plan.spec.exec.argv.slice(0, 8), joins: plan.joins.map((join) => join.label) }, "program started");
    return session;
  }
}

/** stdout and stderr chunks in arrival order, each stream in its own order, until both pipes close; a terminal's output as stdout alone. */
function readOutput(session: ProgramSession) {
  if (session.terminal) return mergeReadables([{ tag: "stdout" as const, stream: session.terminal.output }]);
  if (!session.stdout || !session.stderr) throw new Error("an Exec program is started with its stdout and stderr as sockets");
  return mergeReadables([
    { tag: "stdout" as const, stream: session.stdout },
    { tag: "stderr" as const, stream: session.stderr },
  ]);
}

/** Feeds the caller's messages after the spec to the program: stdin with backpressure, close_stdin, signals. */
async function pumpInput(input: AsyncIterator<ExecRequest>, session: ProgramSession): Promise<void> {
  const stdin = session.stdin;
  if (!stdin) throw new Error("an Exec program is started with its stdin open");
  for (let next = await input.next(); !next.done; next = await input.next()) {
    const msg = next.value.msg;
    switch (msg.case) {
      case "stdin":
        if (!stdin.writableEnded && !stdin.write(msg.value)) await drained(stdin);
        break;
      case "closeStdin":
        stdin.end();
        break;
      case "signal":
        if (!Number.isInteger(msg.value) || msg.value < 1 || msg.value > MAX_SIGNAL) throw invalidArgument(`signal: must be 1..${MAX_SIGNAL}, got ${msg.value}`);
        session.signal(msg.value);
        break;
      case "spec":
        throw invalidArgument("spec: only the first message may carry it");
      case "resize":
        throw invalidArgument("resize: the program has no terminal (spec.tty)");
      default:
        throw invalidArgument("msg: one of stdin, close_stdin, signal or resize is required");
    }
  }
  stdin.end();
}

/**
 * The caller's messages after the spec, for a program on a terminal: stdin
 * is typed on it (with backpressure), close_stdin and the caller's
 * half-close type its EOF character (once), signals go to its foreground
 * process group (the program's group when it has none), resize sets its
 * size.
 */
async function pumpTerminalInput(input: AsyncIterator<ExecRequest>, session: ProgramSession, terminal: Terminal): Promise<void> {
  let eofSent = false;
  const sendEof = async () => {
    if (eofSent) return;
    eofSent = true;
    await terminal.sendEof();
  };
  for (let next = await input.next(); !next.done; next = await input.next()) {
    const msg = next.value.msg;
    switch (msg.case) {
      case "stdin":
        await terminal.write(msg.value);
        break;
      case "closeStdin":
        await sendEof();
        break;
      case "signal":
        if (!Number.isInteger(msg.value) || msg.value < 1 || msg.value > MAX_SIGNAL) throw invalidArgument(`signal: must be 1..${MAX_SIGNAL}, got ${msg.value}`);
        if (!terminal.signal(msg.value)) session.signal(msg.value);
        break;
      case "resize":
        checkTerminalSize(msg.value.rows, msg.value.cols, "resize");
        terminal.resize(msg.value.rows, msg.value.cols);
        break;
      case "spec":
        throw invalidArgument("spec: only the first message may carry it");
      default:
        throw invalidArgument("msg: one of stdin, close_stdin, signal or resize is required");
    }
  }
  await sendEof();
}

function drained(stdin: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stdin.off("drain", done);
      stdin.off("close", done);
      resolve();
    };
    stdin.once("drain", done);
    stdin.once("close", done);
  });
}
