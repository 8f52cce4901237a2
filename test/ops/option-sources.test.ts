import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { InvalidArgumentError, Option } from "commander";
import { ConfigError, ConfigurableCommand, collect, parseWithSources } from "../../server/config/option-sources";

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError("must be a positive integer");
  return parsed;
}

/** A program shaped like lxnsd's: numbers, strings, a repeatable, choices, a boolean. */
function program(): ConfigurableCommand {
  const command = new ConfigurableCommand()
    .addOption(new Option("--config <file>", "config file").env("LXNSD_CONFIG"))
    .option("--listen <address>", "repeatable", collect)
    .option("--max-handles <n>", "a number", positiveInt, 1024)
    .option("--state-dir <dir>", "a string", "/run/lxnsd")
    .addOption(new Option("--log-level <level>", "choices").choices(["info", "debug"]).default("info"))
    .option("--insecure-loopback", "a boolean")
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  return command as ConfigurableCommand;
}

describe("options from flags, env and a config file", () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-config-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function file(name: string, text: string): string {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  }

  /** Parses `args` with `env` set in process.env (where commander reads it) for this call only. */
  function parse(args: string[], env: Record<string, string> = {}): Record<string, unknown> {
    Object.assign(process.env, env);
    try {
      return parseWithSources(program(), ["node", "lxnsd", ...args]);
    } finally {
      for (const key of Object.keys(env)) delete process.env[key];
    }
  }

  it("names every option's env var LXNSD_<NAME> and shows it in --help, but not --help's or --config's own", () => {
    const command = program();
    expect(command.options.map((o) => [o.long, o.envVar])).toEqual([
      ["--config", "LXNSD_CONFIG"],
      ["--listen", "LXNSD_LISTEN"],
      ["--max-handles", "LXNSD_MAX_HANDLES"],
      ["--state-dir", "LXNSD_STATE_DIR"],
      ["--log-level", "LXNSD_LOG_LEVEL"],
      ["--insecure-loopback", "LXNSD_INSECURE_LOOPBACK"],
    ]);
    expect(command.helpInformation()).toContain("env: LXNSD_MAX_HANDLES");
  });

  it("takes flag > env > file > default, per option", () => {
    const yaml = file("lxnsd.yaml", "max-handles: 10\nstate-dir: /srv/file\nlog-level: debug\n");
    expect(parse([])).toMatchObject({ maxHandles: 1024, stateDir: "/run/lxnsd", logLevel: "info" });
    expect(parse(["--config", yaml])).toMatchObject({ maxHandles: 10, stateDir: "/srv/file", logLevel: "debug" });
    expect(parse(["--config", yaml], { LXNSD_MAX_HANDLES: "20" })).toMatchObject({ maxHandles: 20, stateDir: "/srv/file" });
    expect(parse(["--config", yaml, "--max-handles", "30"], { LXNSD_MAX_HANDLES: "20" })).toMatchObject({ maxHandles: 30, stateDir: "/srv/file" });
  });

  it("finds the file through LXNSD_CONFIG too, and reads JSON as well as YAML", () => {
    const json = file("lxnsd.json", JSON.stringify({ "max-handles": 7, listen: ["unix:/a.sock", "127.0.0.1:9"] }));
    expect(parse([], { LXNSD_CONFIG: json })).toMatchObject({ maxHandles: 7, listen: ["unix:/a.sock", "127.0.0.1:9"] });
  });

  it("takes a list or one value for a repeatable option from the file, one value from env, and flags replace both", () => {
    expect(parse(["--config", file("a.yaml", "listen: unix:/one.sock\n")])).toMatchObject({ listen: ["unix:/one.sock"] });
    expect(parse([], { LXNSD_LISTEN: "unix:/env.sock" })).toMatchObject({ listen: ["unix:/env.sock"] });
    const both = file("b.yaml", "listen: [unix:/a.sock, unix:/b.sock]\n");
    expect(parse(["--config", both])).toMatchObject({ listen: ["unix:/a.sock", "unix:/b.sock"] });
    expect(parse(["--config", both, "--listen", "unix:/flag.sock"])).toMatchObject({ listen: ["unix:/flag.sock"] });
  });

  it("reads a boolean env var by its value (0/false off), and a boolean key only as true/false", () => {
    expect(parse([], { LXNSD_INSECURE_LOOPBACK: "1" })).toMatchObject({ insecureLoopback: true });
    expect(parse([], { LXNSD_INSECURE_LOOPBACK: "false" }).insecureLoopback).toBe(false);
    expect(() => parse([], { LXNSD_INSECURE_LOOPBACK: "maybe" })).toThrow(new ConfigError('LXNSD_INSECURE_LOOPBACK: expected true or false (1/0, yes/no), got "maybe"'));
    expect(parse(["--config", file("t.yaml", "insecure-loopback: true\n")])).toMatchObject({ insecureLoopback: true });
    // the env var said off: the file does not turn it on
    expect(parse(["--config", file("t2.yaml", "insecure-loopback: true\n")], { LXNSD_INSECURE_LOOPBACK: "0" }).insecureLoopback).toBe(false);
  });

  it("refuses an unknown key, naming it and the file", () => {
    const bad = file("bad.yaml", "max-handle: 3\n");
    expect(() => parse(["--config", bad])).toThrow(ConfigError);
    expect(() => parse(["--config", bad])).toThrow(`${bad}: unknown key "max-handle" (the keys are the long flag names: listen, max-handles, state-dir, log-level, insecure-loopback)`);
    expect(() => parse(["--config", file("c.yaml", "config: /x\n")])).toThrow(/unknown key "config"/);
  });

  it("refuses a value of the wrong type or that the option's parser refuses, naming the key and the file", () => {
    const cases: [string, string][] = [
      ["max-handles: many\n", '%: max-handles: "many" is invalid: must be a positive integer'],
      ["max-handles: -1\n", '%: max-handles: "-1" is invalid: must be a positive integer'],
      ["max-handles: [1, 2]\n", "%: max-handles: takes one value, got a list"],
      ["state-dir: {a: 1}\n", "%: state-dir: expected a string or number, got a mapping"],
      ["state-dir: null\n", "%: state-dir: expected a string or number, got null"],
      ["state-dir: true\n", "%: state-dir: expected a string or number, got a boolean"],
      ["listen: [unix:/a, [1]]\n", "%: listen: expected a string or number, got a list"],
      ["log-level: loud\n", '%: log-level: "loud" is invalid: Allowed choices are info, debug.'],
      ["insecure-loopback: yes please\n", "%: insecure-loopback: expected true or false, got a string"],
    ];
    for (const [text, message] of cases) {
      const p = file("v.yaml", text);
      expect(() => parse(["--config", p])).toThrow(new ConfigError(message.replace("%", p)));
    }
  });

  it("refuses a file that is missing, not JSON/YAML or not a mapping", () => {
    expect(() => parse(["--config", path.join(dir, "none.yaml")])).toThrow(/^cannot read config file .*none\.yaml: ENOENT/);
    const broken = file("broken.yaml", "max-handles: [1\n");
    expect(() => parse(["--config", broken])).toThrow(new RegExp(`^${broken}: not valid JSON or YAML: `));
    const list = file("list.yaml", "- 1\n- 2\n");
    expect(() => parse(["--config", list])).toThrow(new ConfigError(`${list}: expected a mapping of option names to values`));
    expect(parse(["--config", file("empty.yaml", "")])).toMatchObject({ maxHandles: 1024 });
  });

  it("reports a bad env value through commander, naming the variable", () => {
    expect(() => parse([], { LXNSD_MAX_HANDLES: "abc" })).toThrow(/value 'abc' from env 'LXNSD_MAX_HANDLES' is invalid/);
  });
});
