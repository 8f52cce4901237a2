import { readFileSync } from "node:fs";

/** The gid of a group given by number or by name (/etc/group). */
export function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  let text = "";
  try {
    text = readFileSync("/etc/group", "utf8");
  } catch {
    // no /etc/group: only numbers work
  }
  const line = text.split("\n").find((entry) => entry.split(":")[0] === group);
  if (!line) throw new Error(`--socket-group: no group ${JSON.stringify(group)} in /etc/group`);
  return Number(line.split(":")[2]);
}
