import { NamespaceType, Relation } from "../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceRef } from "../../api/gen/lxnsd/v1/types_pb";

const MAX_TARGETS = 16;

/** One reference for an audit line: "net pid=123", "handle=h-…", "user path=/run/netns/x owner". */
export function describeRef(ref: NamespaceRef): string {
  const type = ref.type === NamespaceType.UNSPECIFIED ? "" : `${(NamespaceType[ref.type] ?? String(ref.type)).toLowerCase()} `;
  const source = ref.source.case === undefined ? "none" : ref.source.case === "self" ? "self" : `${ref.source.case}=${sourceValue(ref.source).slice(0, 256)}`;
  const relation = ref.relation === Relation.UNSPECIFIED ? "" : ` ${(Relation[ref.relation] ?? String(ref.relation)).toLowerCase()}`;
  return `${type}${source}${relation}`;
}

/** A reference's source value as text: a container reference by its selector ("pod:shop/web/app", "containerd://…"). */
function sourceValue(source: NamespaceRef["source"]): string {
  if (source.case !== "container") return String(source.value);
  const selector = source.value.selector;
  if (selector.case === "pod") {
    const pod = selector.value;
    const name = pod.uid !== "" ? pod.uid : `${pod.namespace}/${pod.name}`;
    return `pod:${name}${pod.containerName !== "" ? `/${pod.containerName}` : ""}`;
  }
  return selector.case === undefined ? "none" : String(selector.value);
}

/** Every NamespaceRef inside a request message, at any depth (at most 16), described for the audit log. */
export function refTargets(message: unknown): string[] {
  const found: string[] = [];
  const walk = (value: unknown, depth: number): void => {
    if (found.length >= MAX_TARGETS || depth > 8 || value === null || typeof value !== "object" || value instanceof Uint8Array) return;
    if (Array.isArray(value)) {
      value.forEach((item) => walk(item, depth + 1));
      return;
    }
    if ((value as { $typeName?: string }).$typeName === "lxnsd.v1.NamespaceRef") {
      found.push(describeRef(value as NamespaceRef));
      return;
    }
    for (const field of Object.values(value)) walk(field, depth + 1);
  };
  walk(message, 0);
  return found;
}
