/** What a caller may do; every method needs exactly one. */
export type Scope = "read" | "exec" | "admin";

export const SCOPES: readonly Scope[] = ["read", "exec", "admin"];

/** The scope each lxnsd.v1 method needs, by "Service/Method". */
const METHOD_SCOPES: Readonly<Record<string, Scope>> = {
  "NamespaceService/Inspect": "read",
  "NamespaceService/GetCurrentNamespaces": "read",
  "NamespaceService/ListNamespaces": "read",
  "NamespaceService/WatchNamespaces": "read",
  "ProcessService/Run": "exec",
  "ProcessService/Exec": "exec",
  "NamespaceService/Open": "admin",
  "NamespaceService/Close": "admin",
  "NamespaceService/Unshare": "admin",
  "NamespaceService/GetLimit": "read",
  "NamespaceService/SetLimit": "admin",
  "NamespaceService/Pin": "admin",
  "NamespaceService/Unpin": "admin",
  "MountService/BindMount": "admin",
  "ContainerService/ListContainers": "read",
  "ContainerService/GetContainer": "read",
};

/** The scope `method` ("Service/Method") needs; unknown methods need admin. */
export function scopeOf(method: string): Scope {
  return METHOD_SCOPES[method] ?? "admin";
}

/** Whether a call of `method` changes anything (and so leaves an audit line). */
export function changesState(method: string): boolean {
  return scopeOf(method) !== "read";
}
