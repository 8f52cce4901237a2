import { loadPolicy, parsePolicy } from "../../../server/auth/policy-file";
import { tokenHash, writePolicy } from "../../helpers/policy";
import { countFds, nsDevice, nsInode } from "../../helpers/proc";

describe("policy files", () => {
  it("reads YAML and JSON into identities with scopes, credentials and target rules", () => {
    const yaml = writePolicy(
      [
        "unix-owner-scopes: [read]",
        "identities:",
        "  - name: ci",
        "    scopes: [read, exec]",
        `    tokens: ["${tokenHash("secret")}"]`,
        '    certificates: ["CN=ci", "URI:spiffe://cluster/ci"]',
        "    unix-gids: [1000]",
        "    targets:",
        '      cgroup-prefixes: ["/kubepods.slice"]',
        "      user-namespaces: [/proc/self/ns/user]",
        '    mount-sources: ["/srv/shared"]',
        "",
      ].join("\n"),
      "policy.yaml",
    );
    const policy = loadPolicy(yaml);
    expect([...policy.unixOwnerScopes]).toEqual(["read"]);
    expect(policy.identities).toEqual([
      {
        name: "ci",
        scopes: new Set(["read", "exec"]),
        tokenHashes: [tokenHash("secret")],
        certificates: ["CN=ci", "URI:spiffe://cluster/ci"],
        unixUids: [],
        unixGids: [1000],
        targets: {
          cgroupPrefixes: ["/kubepods.slice"],
          userNamespaces: [{ path: "/proc/self/ns/user", dev: nsDevice("self", "user"), ino: nsInode("self", "user") }],
          mountSources: ["/srv/shared"],
        },
      },
    ]);
    policy.close?.();
    const json = writePolicy({ identities: [{ name: "a", scopes: ["admin"], "unix-uids": [0] }] });
    expect(loadPolicy(json).identities[0].unixUids).toEqual([0]);
    expect([...loadPolicy(json).unixOwnerScopes]).toEqual(["read", "exec", "admin"]);
    expect(loadPolicy(json).open).toBeUndefined();
  });

  it("names user namespaces by a path held from start, never by a number", () => {
    const numbered = writePolicy({ identities: [{ name: "t", scopes: ["read"], "unix-uids": [2000], targets: { "user-namespaces": [4026531837] } }] });
    expect(() => loadPolicy(numbered)).toThrow(/identities\.0\.targets\.user-namespaces\.0: a number \(inode\) may name another namespace .*by a path/);
    const fds = countFds();
    const wrong = writePolicy({
      identities: [{ name: "t", scopes: ["read"], "unix-uids": [2000], targets: { "user-namespaces": ["/proc/self/ns/user", "/proc/self/ns/net", "/etc/passwd", "/nonexistent/x", "relative"] } }],
    });
    expect(() => loadPolicy(wrong)).toThrow(
      /identities\.0\.targets\.user-namespaces\.4: must be an absolute/,
    );
    const unusable = writePolicy({
      identities: [{ name: "t", scopes: ["read"], "unix-uids": [2000], targets: { "user-namespaces": ["/proc/self/ns/user", "/proc/self/ns/net", "/etc/passwd", "/nonexistent/x"] } }],
    });
    expect(() => loadPolicy(unusable)).toThrow(
      /user-namespaces\.1: \/proc\/self\/ns\/net is not a user namespace\n.*user-namespaces\.2: \/etc\/passwd: not a namespace file\n.*user-namespaces\.3: \/nonexistent\/x: .*ENOENT/,
    );
    // A refused policy holds nothing; an accepted one holds one fd per namespace until close().
    expect(countFds()).toBe(fds);
    const policy = loadPolicy(writePolicy({ identities: [{ name: "t", scopes: ["read"], "unix-uids": [2000], targets: { "user-namespaces": ["/proc/self/ns/user"] } }] }));
    expect(countFds()).toBe(fds + 1);
    policy.close?.();
    expect(countFds()).toBe(fds);
  });

  it("names the file and the key of every mistake", () => {
    const file = writePolicy({
      identities: [
        { name: "x", scopes: ["read", "root"], tokens: ["plaintext"], colour: "red" },
        { name: "y", scopes: ["read"] },
        { name: "z", scopes: ["read"], certificates: ["ci"], targets: { "cgroup-prefixes": ["relative/path"] } },
      ],
    });
    expect(() => loadPolicy(file)).toThrow(
      new RegExp(
        [
          `invalid policy ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:`,
          "  identities\\.0\\.scopes\\.1: .*\"read\"\\|\"exec\"\\|\"admin\"",
          '  identities\\.0\\.tokens\\.0: must be "sha256:"',
          '  identities\\.0: Unrecognized key: "colour"',
          "  identities\\.1: needs at least one of tokens, certificates, unix-uids, unix-gids",
          '  identities\\.2\\.certificates\\.0: must be a subject attribute \\("CN=name"\\)',
          "  identities\\.2\\.targets\\.cgroup-prefixes\\.0: must be an absolute, normalized path",
        ].join(".*\n"),
      ),
    );
  });

  it("refuses a name or token used twice, unknown top-level keys, and files it cannot read or parse", () => {
    const hash = tokenHash("t");
    expect(() =>
      parsePolicy({ identities: [{ name: "a", scopes: ["read"], tokens: [hash] }, { name: "b", scopes: ["read"], tokens: [hash] }] }, "p.json"),
    ).toThrow(`identities.1: token ${hash} is already used by identity a`);
    expect(() => parsePolicy({ identities: [{ name: "a", scopes: ["read"], "unix-uids": [1] }, { name: "a", scopes: ["exec"], "unix-uids": [2] }] }, "p.json")).toThrow(
      "identities.1: name a is already used by identity a",
    );
    expect(() => parsePolicy({ identites: [] }, "p.json")).toThrow('(top level): Unrecognized key: "identites"');
    expect(() => loadPolicy("/nonexistent/policy.yaml")).toThrow(/cannot read policy \/nonexistent\/policy\.yaml: ENOENT/);
    expect(() => loadPolicy(writePolicy("{ not json", "broken.json"))).toThrow(/invalid policy .*broken\.json: /);
  });
});
