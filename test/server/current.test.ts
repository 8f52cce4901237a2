import { readlinkSync } from "node:fs";
import { NAMESPACE_KINDS } from "../../api/namespace-types";
import { startDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { nsDevice, nsInode } from "../helpers/proc";

describeRoot("GetCurrentNamespaces", () => {
  it("gives the daemon's namespace of every type, as /proc/self/ns shows them", async () => {
    const lxnsd = await startDaemon();
    try {
      const { namespaces } = await lxnsd.client.getCurrentNamespaces();
      expect(namespaces.map((info) => info.type)).toEqual(NAMESPACE_KINDS.map((kind) => kind.type));
      namespaces.forEach((info, index) => {
        const name = NAMESPACE_KINDS[index].name;
        expect(info.nsId).toBe(nsInode("self", name));
        expect(readlinkSync(`/proc/self/ns/${name}`)).toBe(`${name}:[${info.nsId}]`);
        expect(info.device).toBe(nsDevice("self", name));
        // The initial user namespace has no owner in view; every other type is owned by it.
        expect(info.ownerUserNsId).toBe(name === "user" ? 0n : nsInode("self", "user"));
      });
    } finally {
      await lxnsd.stop();
    }
  });
});
