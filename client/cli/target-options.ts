import { Option } from "commander";
import type { Command } from "commander";
import type { NamespaceRef } from "../../api/gen/lxnsd/v1/types_pb";
import { CONTAINER_FLAGS, addContainerOptions, containerRefOf } from "./container-options";
import type { ContainerFlags } from "./container-options";
import { parsePid } from "./parse-values";
import { UsageError } from "./usage-error";

/** What names a target: a pid, --self, a handle, a path, or a container or pod. */
export type TargetSource = NamespaceRef["source"];

/** A flag's help, or its flags (when not the usual ones) and help. */
type FlagHelp = string | { flags: string; help: string };

/** Which target flags a command takes, each with its help; absent ones are not taken. */
export interface TargetFlagHelp {
  /** The pid flag: `-t, --target <pid>` unless other flags are given. */
  pid: FlagHelp;
  /** `--self`. */
  self?: string;
  /** `--handle <id>` unless other flags are given. */
  handle?: FlagHelp;
  /** `--path <file>`. */
  path?: string;
}

/** The parsed target flags: the container flags, and the others under their own attribute names (target, self, handle, path, …). */
export type TargetFlags = ContainerFlags;

const flagsOf = (help: FlagHelp, usual: string) => (typeof help === "string" ? usual : help.flags);
const helpOf = (help: FlagHelp) => (typeof help === "string" ? help : help.help);

/**
 * The one parser of the flags that name a command's target, shared by every
 * command that takes `-t PID`: the pid flag and, per command, `--self`,
 * `--handle ID` and `--path FILE`, plus the container flags `--container ID`,
 * `--pod NAMESPACE/NAME`, `--pod-uid UID` and `--container-name NAME`. At
 * most one target is given (commander refuses two with exit 2).
 */
export class TargetOptions {
  private readonly pidFlags: string;
  private readonly pidAttribute: string;
  private readonly handleFlags?: string;
  private readonly handleAttribute?: string;

  constructor(private readonly help: TargetFlagHelp) {
    this.pidFlags = flagsOf(help.pid, "-t, --target <pid>");
    this.pidAttribute = new Option(this.pidFlags).attributeName();
    if (help.handle !== undefined) {
      this.handleFlags = flagsOf(help.handle, "--handle <id>");
      this.handleAttribute = new Option(this.handleFlags).attributeName();
    }
  }

  /** Adds the flags to `command`. */
  addTo(command: Command): Command {
    const names = [this.pidAttribute, ...(this.help.self !== undefined ? ["self"] : []), ...(this.handleAttribute ? [this.handleAttribute] : []), ...(this.help.path !== undefined ? ["path"] : [])];
    const others = (name: string) => [...names.filter((other) => other !== name), ...CONTAINER_FLAGS];
    command.addOption(new Option(this.pidFlags, helpOf(this.help.pid)).argParser(parsePid).conflicts(others(this.pidAttribute)));
    if (this.help.self !== undefined) command.addOption(new Option("--self", this.help.self).conflicts(others("self")));
    if (this.help.handle !== undefined && this.handleFlags && this.handleAttribute) {
      command.addOption(new Option(this.handleFlags, helpOf(this.help.handle)).conflicts(others(this.handleAttribute)));
    }
    if (this.help.path !== undefined) command.addOption(new Option("--path <file>", this.help.path).conflicts(others("path")));
    return addContainerOptions(command, names);
  }

  /** The target the flags name; undefined for none. UsageError for --container-name without a pod, or a bad --pod. */
  source(flags: TargetFlags): TargetSource | undefined {
    const given = flags as Record<string, unknown>;
    const pid = given[this.pidAttribute];
    if (typeof pid === "number") return { case: "pid", value: pid };
    if (this.help.self !== undefined && given.self === true) return { case: "self", value: true };
    const handle = this.handleAttribute ? given[this.handleAttribute] : undefined;
    if (typeof handle === "string") return { case: "handle", value: handle };
    if (this.help.path !== undefined && typeof given.path === "string") return { case: "path", value: given.path };
    const container = containerRefOf(flags);
    return container ? { case: "container", value: container } : undefined;
  }

  /** The target the flags name; UsageError naming every way to give one when there is none. */
  required(flags: TargetFlags, what = "a target"): TargetSource {
    const source = this.source(flags);
    if (source === undefined) throw new UsageError(`${what} is required: ${this.choices()}`);
    return source;
  }

  /** "-t PID, --handle ID, …, --pod NAMESPACE/NAME or --pod-uid UID": the flags, for messages. */
  choices(): string {
    const long = (flags: string) => flags.split(/[ ,]+/).find((part) => part.startsWith("--"));
    const pid = `${this.pidFlags.startsWith("-t,") ? "-t" : long(this.pidFlags)} PID`;
    const ways = [pid, ...(this.help.self !== undefined ? ["--self"] : []), ...(this.handleFlags ? [`${long(this.handleFlags)} ID`] : []), ...(this.help.path !== undefined ? ["--path FILE"] : []), "--container ID", "--pod NAMESPACE/NAME"];
    return `${ways.join(", ")} or --pod-uid UID`;
  }
}
