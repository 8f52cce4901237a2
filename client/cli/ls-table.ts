import { readFileSync } from "node:fs";
import type { NamespaceSummary } from "../../api/gen/lxnsd/v1/types_pb";
import { typeName } from "./format";
import { UsageError } from "./usage-error";

/** One lsns column: its name, whether it is a number (right-aligned), and its cell. */
interface Column {
  name: string;
  /** lsns' width hint: the column is at least this wide. */
  minWidth?: number;
  number: boolean;
  cell(summary: NamespaceSummary, local: LocalLookups): string;
}

/** What a cell may look up on lxnsctl's own host, as lsns does: user names, parent pids. */
export interface LocalLookups {
  userName(uid: number): string;
  parentPid(pid: number): string;
}

const COLUMNS: readonly Column[] = [
  { name: "NS", minWidth: 10, number: true, cell: (s) => s.info?.nsId.toString() ?? "" },
  { name: "TYPE", minWidth: 5, number: false, cell: (s) => typeName(s.info?.type ?? 0) },
  { name: "PATH", number: false, cell: (s) => `/proc/${s.pid}/ns/${typeName(s.info?.type ?? 0)}` },
  { name: "NPROCS", minWidth: 5, number: true, cell: (s) => String(s.processCount) },
  { name: "PID", minWidth: 5, number: true, cell: (s) => String(s.pid) },
  { name: "PPID", minWidth: 5, number: true, cell: (s, local) => local.parentPid(s.pid) },
  { name: "COMMAND", number: false, cell: (s) => s.command },
  { name: "UID", number: true, cell: (s) => String(s.uid) },
  { name: "USER", number: false, cell: (s, local) => local.userName(s.uid) },
  // Not in ListNamespaces' answer (yet): empty, as lsns leaves what it does not know.
  { name: "NETNSID", number: true, cell: () => "" },
  { name: "NSFS", number: false, cell: () => "" },
  { name: "PNS", number: true, cell: (s) => (s.info?.parentNsId ?? 0n).toString() },
  { name: "ONS", number: true, cell: (s) => (s.info?.ownerUserNsId ?? 0n).toString() },
  // lxnsd's own: the container (short id) and pod of the namespace's lowest pid, "-" for none.
  { name: "CONTAINER", number: false, cell: (s) => (s.containerId === "" ? "-" : s.containerId.slice(0, 12)) },
  { name: "POD", number: false, cell: (s) => (s.podUid === "" ? "-" : s.podUid) },
];

/** lsns' default columns, with the container and pod before COMMAND. */
export const DEFAULT_COLUMNS = ["NS", "TYPE", "NPROCS", "PID", "USER", "CONTAINER", "POD", "COMMAND"];

/** The column names every `-o` may use. */
export const COLUMN_NAMES = COLUMNS.map((column) => column.name);

/**
 * The columns of `-o/--output LIST` as lsns reads it: comma-separated names,
 * any case; a leading `+` adds them to the default columns. UsageError for
 * an unknown name.
 */
export function parseColumns(list: string | undefined): string[] {
  if (list === undefined) return DEFAULT_COLUMNS;
  const append = list.startsWith("+");
  const names = (append ? list.slice(1) : list).split(",").map((name) => name.trim().toUpperCase());
  for (const name of names) {
    if (!COLUMN_NAMES.includes(name)) throw new UsageError(`-o/--output: unknown column ${JSON.stringify(name)} (known: ${COLUMN_NAMES.join(", ")})`);
  }
  return append ? [...DEFAULT_COLUMNS, ...names] : names;
}

/** How to print the table: lsns' -n and -r, and the terminal's width (cut to it, as lsns does) when stdout is one. */
export interface TableStyle {
  noHeadings?: boolean;
  raw?: boolean;
  width?: number;
}

/** lsns' raw output escapes blanks and backslashes in a cell. */
const rawCell = (cell: string) => cell.replace(/[\\\s]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);

/**
 * The summaries as lsns prints them: sorted by NS, the given columns,
 * numbers right-aligned and the others left-aligned, one space apart; raw:
 * one space apart, not aligned. With a width, the COMMAND column is cut so
 * that every line fits it.
 */
export function formatLsTable(summaries: readonly NamespaceSummary[], names: readonly string[], style: TableStyle, local: LocalLookups = hostLookups()): string {
  const columns = names.map((name) => COLUMNS.find((column) => column.name === name)!);
  const sorted = [...summaries].sort((a, b) => {
    const x = a.info?.nsId ?? 0n;
    const y = b.info?.nsId ?? 0n;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const rows = sorted.map((summary) => columns.map((column) => column.cell(summary, local)));
  const all = style.noHeadings ? rows : [columns.map((column) => column.name), ...rows];
  if (style.raw) return all.map((row) => row.map(rawCell).join(" ") + "\n").join("");
  const widths = columns.map((column, index) => Math.max(column.minWidth ?? 0, ...all.map((row) => row[index].length)));
  const command = names.indexOf("COMMAND");
  if (style.width !== undefined && command >= 0) {
    const total = widths.reduce((sum, width) => sum + width, 0) + widths.length - 1;
    if (total > style.width) widths[command] = Math.max(names[command].length, widths[command] - (total - style.width));
  }
  const line = (row: string[]) =>
    row
      .map((cell, index) => {
        const text = index === command ? cell.slice(0, widths[index]) : cell;
        if (columns[index].number) return text.padStart(widths[index]);
        return index === row.length - 1 ? text : text.padEnd(widths[index]);
      })
      .join(" ");
  return all.map((row) => line(row) + "\n").join("");
}

/** User names from /etc/passwd and parent pids from /proc, read on lxnsctl's host (as lsns reads them). */
export function hostLookups(): LocalLookups {
  let users: Map<number, string> | undefined;
  return {
    userName: (uid) => {
      if (!users) {
        users = new Map();
        try {
          for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
            const [name, , id] = line.split(":");
            if (name && id !== undefined && !users.has(Number(id))) users.set(Number(id), name);
          }
        } catch {
          // no passwd file: numbers
        }
      }
      return users.get(uid) ?? String(uid);
    },
    parentPid: (pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] ?? "";
      } catch {
        return "";
      }
    },
  };
}
