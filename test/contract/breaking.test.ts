import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..");
const BUF = path.join(ROOT, "node_modules", ".bin", "buf");
const RELEASED = path.join(ROOT, "contract", "v1");

/** One finding of `buf breaking --error-format json`. */
interface Finding {
  path: string;
  type: string;
  message: string;
}

/** Runs `buf breaking INPUT --against contract/v1`; resolves with its exit code and findings. */
function breaking(input: string): Promise<{ code: number; findings: Finding[]; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BUF, ["breaking", input, "--against", RELEASED, "--error-format", "json"], { cwd: ROOT }, (err, stdout, stderr) => {
      const findings = stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Finding);
      resolve({ code: err ? Number(err.code) : 0, findings, stderr });
    });
  });
}

/** A copy of the project's buf.yaml and proto/ in a temp dir, with `edit` applied to one file. */
function editedTree(dir: string, file: string, edit: (text: string) => string): string {
  cpSync(path.join(ROOT, "buf.yaml"), path.join(dir, "buf.yaml"));
  cpSync(path.join(ROOT, "proto"), path.join(dir, "proto"), { recursive: true });
  const target = path.join(dir, "proto", file);
  const before = readFileSync(target, "utf8");
  const after = edit(before);
  if (after === before) throw new Error(`the edit changed nothing in ${file}`);
  writeFileSync(target, after);
  return dir;
}

describe("buf breaking against the released contract (contract/v1)", () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-breaking-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("passes for the tree as it is (npm run breaking)", async () => {
    expect(await breaking(ROOT)).toEqual({ code: 0, findings: [], stderr: "" });
  });

  it("passes for a new field: adding is allowed", async () => {
    const tree = editedTree(dir, "lxnsd/v1/types.proto", (text) => text.replace("  string command = 5;\n", "  string command = 5;\n  string note = 99;\n"));
    expect(await breaking(tree)).toMatchObject({ code: 0, findings: [] });
  });

  it("fails on a renamed field, naming it", async () => {
    const tree = editedTree(dir, "lxnsd/v1/types.proto", (text) => text.replace("uint64 ns_id = 2;", "uint64 namespace_id = 2;"));
    const { code, findings } = await breaking(tree);
    expect(code).toBe(100);
    expect(findings).toContainEqual(
      expect.objectContaining({
        type: "FIELD_SAME_NAME",
        message: 'Field "2" on message "NamespaceInfo" changed name from "ns_id" to "namespace_id".',
      }),
    );
    expect(findings[0].path).toMatch(/proto\/lxnsd\/v1\/types\.proto$/);
  });

  it("fails on a renumbered field, naming it", async () => {
    const tree = editedTree(dir, "lxnsd/v1/types.proto", (text) => text.replace("string command = 5;", "string command = 8;"));
    const { code, findings } = await breaking(tree);
    expect(code).toBe(100);
    expect(findings).toContainEqual(
      expect.objectContaining({
        type: "FIELD_NO_DELETE",
        message: 'Previously present field "5" with name "command" on message "NamespaceSummary" was deleted.',
      }),
    );
  });

  it("fails on a removed RPC", async () => {
    const tree = editedTree(dir, "lxnsd/v1/process_service.proto", (text) => text.replace(/^\s*rpc Run\(.*$/m, ""));
    const { code, findings } = await breaking(tree);
    expect(code).toBe(100);
    expect(findings.map((f) => f.message)).toContainEqual(expect.stringMatching(/"Run" on service "ProcessService" was deleted/));
  });
});
