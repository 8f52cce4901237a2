import { create } from "@bufbuild/protobuf";
import { NamespaceRefSchema, NamespaceType } from "../../../api/gen/lxnsd/v1/types_pb";
import { describeRef } from "../../../server/rpc/ref-targets";

describe("audit lines name container references by their selector", () => {
  it.each([
    [{ case: "containerId" as const, value: "containerd://4f1e6c3b2a1d" }, "net container=containerd://4f1e6c3b2a1d"],
    [{ case: "pod" as const, value: { namespace: "shop", name: "web", containerName: "app" } }, "net container=pod:shop/web/app"],
    [{ case: "pod" as const, value: { uid: "0b7c3a2e-9d1f-4e5a-8b6c-1d2e3f4a5b6c" } }, "net container=pod:0b7c3a2e-9d1f-4e5a-8b6c-1d2e3f4a5b6c"],
    [{ case: "cgroup" as const, value: "/docker/abc" }, "net container=/docker/abc"],
  ])("%j", (selector, line) => {
    expect(describeRef(create(NamespaceRefSchema, { type: NamespaceType.NET, source: { case: "container", value: { selector } } }))).toBe(line);
  });
});
