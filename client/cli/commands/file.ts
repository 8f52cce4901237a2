import { create } from "@bufbuild/protobuf";
import { InvalidArgumentError, Option } from "commander";
import type { Command } from "commander";
import { toJson } from "@bufbuild/protobuf";
import { FileInfoSchema, FileType, StatResponseSchema, WriteFileResponseSchema, WriteMode } from "../../../api/gen/lxnsd/v1/file_service_pb";
import type { FileInfo } from "../../../api/gen/lxnsd/v1/file_service_pb";
import { NamespaceRefSchema, NamespaceType } from "../../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceRef } from "../../../api/gen/lxnsd/v1/types_pb";
import type { CliContext } from "../cli-context";
import type { ContainerFlags } from "../container-options";
import { parseInteger } from "../parse-values";
import { TargetOptions } from "../target-options";

/** The target flags every file command takes: -t PID, --handle ID, --path FILE, or a container or pod. */
export interface FileTargetOptions extends ContainerFlags {
  target?: number;
  handle?: string;
  path?: string;
}

interface PutOptions extends FileTargetOptions {
  mode?: number;
  append?: boolean;
  createNew?: boolean;
  truncate?: boolean;
  uid?: number;
  gid?: number;
}

interface CatOptions extends FileTargetOptions {
  offset?: number;
  length?: number;
}

/** The target flags of file commands (and sysctl), described as `what` ("mount namespace", "namespace"). */
export function fileTargets(what: string): TargetOptions {
  return new TargetOptions({ pid: `the ${what} of process PID`, handle: `a ${what} handle from open or unshare`, path: `a ${what} file (/proc/PID/ns/TYPE or a pin)` });
}

/** The mount namespace the flags name; a pid or a container resolves paths as that process sees them (its root too). */
export function fileMountRef(options: FileTargetOptions): NamespaceRef {
  return create(NamespaceRefSchema, { type: NamespaceType.MNT, source: fileTargets("mount namespace").required(options) });
}

/** Adds the target flags to `command` (one of them): -t PID, --handle ID, --path FILE, --container ID, --pod NAMESPACE/NAME, --pod-uid UID [--container-name NAME]. */
export function addFileTargetOptions(command: Command, what: string): Command {
  return fileTargets(what).addTo(command);
}

/** An octal mode, 0 to 07777 ("644", "0644", "0o644"). */
export function parseMode(text: string): number {
  const digits = text.replace(/^0o/i, "");
  if (!/^[0-7]{1,5}$/.test(digits)) throw new InvalidArgumentError("Not an octal mode.");
  const mode = parseInt(digits, 8);
  if (mode > 0o7777) throw new InvalidArgumentError("At most 07777.");
  return mode;
}

const parseCount = (text: string) => parseInteger(text, 0, Number.MAX_SAFE_INTEGER);
const parseId = (text: string) => parseInteger(text, 0, 0xffffffff);

/** `drwxr-xr-x`-style permissions of a FileInfo, as ls -l prints them. */
export function modeString(info: FileInfo): string {
  const letter = { [FileType.REGULAR]: "-", [FileType.DIRECTORY]: "d", [FileType.SYMLINK]: "l" }[info.type as number] ?? "?";
  const bits = "rwxrwxrwx".split("").map((c, i) => ((info.mode >> (8 - i)) & 1 ? c : "-"));
  if (info.mode & 0o4000) bits[2] = bits[2] === "x" ? "s" : "S";
  if (info.mode & 0o2000) bits[5] = bits[5] === "x" ? "s" : "S";
  if (info.mode & 0o1000) bits[8] = bits[8] === "x" ? "t" : "T";
  return letter + bits.join("");
}

/** One `ls -l` line: mode, uid, gid, size, modification time (UTC), name [-> target]. */
export function lsLine(info: FileInfo): string {
  const when = info.modified ? new Date(Number(info.modified.seconds) * 1000).toISOString().slice(0, 16).replace("T", " ") : "-";
  const link = info.linkTarget ? ` -> ${info.linkTarget}` : "";
  return `${modeString(info)} ${String(info.uid).padStart(5)} ${String(info.gid).padStart(5)} ${String(info.size).padStart(10)} ${when} ${info.name}${link}`;
}

function statText(info: FileInfo): string {
  const type = (FileType[info.type] ?? "UNKNOWN").toLowerCase();
  const when = info.modified ? new Date(Number(info.modified.seconds) * 1000 + Math.floor(info.modified.nanos / 1e6)).toISOString() : "-";
  const lines = [`name ${info.name}`, `type ${type}`, `size ${info.size}`, `mode 0${info.mode.toString(8).padStart(3, "0")} (${modeString(info)})`, `uid ${info.uid}`, `gid ${info.gid}`, `modified ${when}`];
  if (info.linkTarget) lines.push(`link ${info.linkTarget}`);
  return `${lines.join("\n")}\n`;
}

/** `lxnsctl file cat|put|stat|ls [target] PATH`: files as a process or mount namespace sees them (FileService). */
export function registerFile(program: Command, ctx: CliContext): void {
  const file = program
    .command("file")
    .description("read, write, stat and list files inside a mount namespace, without running a program")
    .addHelpText("after", "\nExamples:\n  lxnsctl file cat -t 1234 /etc/resolv.conf\n  lxnsctl file ls --container 3f2a9c81d4e5 /etc");
  addFileTargetOptions(file.command("cat").description("print a file").argument("<path>", "absolute path as the target sees it"), "mount namespace")
    .addOption(new Option("--offset <n>", "start at byte N").argParser(parseCount))
    .addOption(new Option("--length <n>", "at most N bytes").argParser(parseCount))
    .addHelpText("after", "\nExamples:\n  lxnsctl file cat -t 1234 /etc/resolv.conf")
    .action(async (path: string, options: CatOptions, self: Command) => {
      const request = { mount: fileMountRef(options), path, offset: BigInt(options.offset ?? 0), length: BigInt(options.length ?? 0) };
      for await (const { data } of ctx.connect(self).readFile(request, ctx.callOptions(self))) {
        if (ctx.io.writeOutput) await ctx.io.writeOutput("stdout", data);
        else ctx.io.stdout(Buffer.from(data).toString());
      }
    });
  addFileTargetOptions(file.command("put").description("write stdin to a file (atomically replaced unless --append, --truncate or --create-new)").argument("<path>", "absolute path as the target sees it"), "mount namespace")
    .addOption(new Option("--mode <octal>", "permission bits (default: 0644, or the replaced file's)").argParser(parseMode))
    .addOption(new Option("--append", "append to the file (created when missing)").conflicts(["createNew", "truncate"]))
    .addOption(new Option("--truncate", "truncate the file in place and write (created when missing)").conflicts(["createNew"]))
    .addOption(new Option("--create-new", "fail with ALREADY_EXISTS when the file exists"))
    .addOption(new Option("--uid <uid>", "owner of the file").argParser(parseId))
    .addOption(new Option("--gid <gid>", "group of the file").argParser(parseId))
    .addHelpText("after", "\nExamples:\n  echo 'nameserver 10.0.0.2' | lxnsctl file put -t 1234 /etc/resolv.conf\n  lxnsctl file put --handle h-abc --create-new --mode 600 /srv/key < key.pem")
    .action(async (path: string, options: PutOptions, self: Command) => {
      const writeMode = options.append ? WriteMode.APPEND : options.truncate ? WriteMode.TRUNCATE : options.createNew ? WriteMode.CREATE_NEW : WriteMode.REPLACE;
      const header = { mount: fileMountRef(options), path, mode: options.mode ?? 0, writeMode, ...(options.uid !== undefined ? { uid: options.uid } : {}), ...(options.gid !== undefined ? { gid: options.gid } : {}) };
      const stdin = ctx.io.stdin;
      async function* requests() {
        yield { msg: { case: "header" as const, value: header } };
        if (!stdin) return;
        for await (const chunk of stdin) yield { msg: { case: "data" as const, value: chunk as Buffer } };
      }
      const response = await ctx.connect(self).writeFile(requests(), ctx.callOptions(self));
      ctx.print(self, WriteFileResponseSchema, response, () => "");
    });
  addFileTargetOptions(file.command("stat").description("print a file's type, size, mode, owner, time and link target").argument("<path>", "absolute path as the target sees it"), "mount namespace")
    .action(async (path: string, options: FileTargetOptions, self: Command) => {
      const response = await ctx.connect(self).stat({ mount: fileMountRef(options), path }, ctx.callOptions(self));
      ctx.print(self, StatResponseSchema, response, (r) => statText(r.info!));
    });
  addFileTargetOptions(file.command("ls").description("list a directory, ls -l style: MODE UID GID SIZE MODIFIED NAME [-> LINK]").argument("<path>", "absolute path as the target sees it"), "mount namespace")
    .action(async (path: string, options: FileTargetOptions, self: Command) => {
      const entries: FileInfo[] = [];
      for await (const { entry } of ctx.connect(self).listDirectory({ mount: fileMountRef(options), path }, ctx.callOptions(self))) entries.push(entry!);
      if (ctx.globals(self).json) {
        ctx.io.stdout(`${JSON.stringify({ entries: entries.map((entry) => toJson(FileInfoSchema, entry)) }, null, 2)}\n`);
      } else {
        ctx.io.stdout(entries.map((entry) => `${lsLine(entry)}\n`).join(""));
      }
    });
}
