import { Command, Help } from "commander";
import type { CliContext } from "./cli-context";

/** What registers a command (and its subcommands) on the program. */
export type Register = (program: Command, ctx: CliContext) => void;

/**
 * One lxnsctl command, loaded only when run (its module, and the protobuf
 * and gRPC code it needs, are required then): its name, and its line in
 * the top-level help, `term` and `summary` exactly as commander prints them
 * for the real command (test/client/cli.test.ts checks they stay equal).
 */
export interface LazyCommand {
  name: string;
  term: string;
  summary: string;
  load(): Register;
}

/** Every command, in the order of the help. */
export const COMMANDS: readonly LazyCommand[] = [
  { name: "inspect", term: "inspect [options]", summary: "show one namespace: its id, device, owner and parent", load: () => require("./commands/inspect").registerInspect },
  { name: "current", term: "current", summary: "list the daemon's own namespace of every type", load: () => require("./commands/inspect").registerCurrent },
  { name: "open", term: "open [options]", summary: "hold a namespace open in the daemon and print the handle id", load: () => require("./commands/handles").registerOpen },
  { name: "close", term: "close <handle...>", summary: "release handles; closing one again is harmless", load: () => require("./commands/handles").registerClose },
  {
    name: "unshare",
    term: "unshare [options] [command...]",
    summary: "create new namespaces: held by the daemon (prints HANDLE TYPE NS per namespace), or, with -- CMD, for a program run in them",
    load: () => require("./commands/unshare").registerUnshare,
  },
  { name: "exec", term: "exec [options] [command...]", summary: "run a program in namespaces of a process (or held handles), like nsenter; stdio is streamed", load: () => require("./commands/exec").registerExec },
  {
    name: "limit",
    term: "limit [options] <type> [value]",
    summary: "print /proc/sys/user/max_TYPE_namespaces of a user namespace, or set it when VALUE is given",
    load: () => require("./commands/limit").registerLimit,
  },
  {
    name: "ls",
    term: "ls [options]",
    summary: "list namespaces as lsns does, with the container and pod of each one's lowest pid: NS TYPE NPROCS PID USER CONTAINER POD COMMAND, sorted by NS",
    load: () => require("./commands/list").registerList,
  },
  { name: "ps", term: "ps [options]", summary: "list the node's containers: CONTAINER NAME POD NAMESPACE PID RUNTIME", load: () => require("./commands/containers").registerPs },
  { name: "watch", term: "watch [options]", summary: "print ADDED|REMOVED NS TYPE PID COMMAND as namespaces appear and go, until interrupted", load: () => require("./commands/list").registerWatch },
  {
    name: "pin",
    term: "pin [options] <name>",
    summary: "pin a namespace on a file that outlives handles and the daemon, as `ip netns add` (prints the path)",
    load: () => require("./commands/pin").registerPin,
  },
  { name: "unpin", term: "unpin <name>", summary: "unmount and remove a pin made by `lxnsctl pin`", load: () => require("./commands/pin").registerUnpin },
  {
    name: "pins",
    term: "pins [name...]",
    summary: "list pins: NAME, TYPE, NS, PATH and the processes in each (PIDS, as `ip netns pids NAME`)",
    load: () => require("./commands/pins").registerPins,
  },
  { name: "mount", term: "mount", summary: "mounts in other mount namespaces", load: () => require("./commands/mount").registerMount },
  { name: "file", term: "file", summary: "read, write, stat and list files inside a mount namespace, without running a program", load: () => require("./commands/file").registerFile },
  {
    name: "sysctl",
    term: "sysctl [options] <name[=value]>",
    summary:
      "print a sysctl of a namespace (net.*: its network namespace; kernel.hostname, kernel.domainname: uts; kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*: ipc; user.*: user), or set it as sysctl -w with NAME=VALUE",
    load: () => require("./commands/sysctl").registerSysctl,
  },
  { name: "health", term: "health [service]", summary: "print the daemon's grpc.health.v1 status (SERVING, NOT_SERVING); exit 0 only when SERVING", load: () => require("./commands/health").registerHealth },
];

/** Whether a program option (of `program`) at argv[index] takes the next token as its value. */
function takesNext(program: Command, token: string): boolean {
  if (token.includes("=")) return false;
  const option = program.options.find((o) => o.long === token || o.short === token);
  return option !== undefined && (option.required || option.optional);
}

/**
 * The command `argv` names: the first token that is not a global option or
 * its value (`help NAME` names NAME); undefined for none or an unknown name.
 */
export function commandNamed(program: Command, argv: readonly string[]): LazyCommand | undefined {
  let index = 0;
  while (index < argv.length && argv[index].startsWith("-") && argv[index] !== "--") index += takesNext(program, argv[index]) ? 2 : 1;
  let name = argv[index];
  if (name === "help" && index + 1 < argv.length) name = argv[index + 1];
  return COMMANDS.find((command) => command.name === name);
}

/**
 * Registers a stub per command, for the top-level help and commander's
 * "unknown command" (a named command is registered for real instead).
 */
export function addCommandStubs(program: Command): void {
  const terms = new Map<Command, string>();
  for (const entry of COMMANDS) {
    const stub = new Command(entry.name).description(entry.summary);
    terms.set(stub, entry.term);
    program.addCommand(stub);
  }
  const standard = new Help();
  program.configureHelp({ subcommandTerm: (command: Command) => terms.get(command) ?? standard.subcommandTerm(command) });
}
