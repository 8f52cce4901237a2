import { createClient, NamespaceType } from "../../client";
import { LxnsdError } from "../../client";
import { defaultConfig } from "../../server/config/config";
import { startDaemon } from "../helpers/daemon";
import { newToken, tokenHash, writePolicy } from "../helpers/policy";
import { describeRoot } from "../helpers/privileged";

const selfNet = { ref: { type: NamespaceType.NET, source: { case: "self" as const, value: true } } };

describe("the handle share of one identity", () => {
  it("defaults to 256, a quarter of the default --max-handles", () => {
    expect(defaultConfig().maxHandles).toBe(1024);
    expect(defaultConfig().maxHandlesPerIdentity).toBe(256);
  });
});

describeRoot("handles of two identities under the default caps", () => {
  it("one identity that holds its share is refused; the other still opens", async () => {
    const tokens = { greedy: newToken(), other: newToken() };
    const identity = (name: string, token: string) => ({ name, scopes: ["read", "admin"], tokens: [tokenHash(token)] });
    const daemon = await startDaemon({ policyFile: writePolicy({ identities: [identity("greedy", tokens.greedy), identity("other", tokens.other)] }) });
    const greedy = createClient(daemon.address, { token: tokens.greedy });
    const other = createClient(daemon.address, { token: tokens.other });
    try {
      const share = defaultConfig().maxHandlesPerIdentity;
      for (let i = 0; i < share; i += 1) await greedy.open(selfNet);
      const refused = await greedy.open(selfNet).catch((e: unknown) => e);
      expect((refused as LxnsdError).codeName).toBe("RESOURCE_EXHAUSTED");
      expect((refused as LxnsdError).reason).toBe("HANDLE_LIMIT_PER_IDENTITY");
      expect(daemon.daemon.handles.size).toBe(share);
      const { handle } = await other.open(selfNet);
      expect(handle?.id).toBeDefined();
    } finally {
      greedy.disconnect();
      other.disconnect();
      await daemon.stop();
    }
  });
});
