import { toJson } from "@bufbuild/protobuf";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { Handle, NamespaceInfo, NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import { kindOf } from "../../api/namespace-types";

/** protobuf JSON with every field, zero values included (`uid: 0`, `ownerUid: 0` are answers, not absences). */
export const JSON_OPTIONS = { alwaysEmitImplicit: true } as const;

/** `message` as one protobuf JSON document (canonical field names, int64 as strings, zero values kept), newline-terminated. */
export function formatJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): string {
  return `${JSON.stringify(toJson(schema, message, JSON_OPTIONS), null, 2)}\n`;
}

/** The short name of a type ("net"), or "unspecified"/the number for values this client does not know. */
export function typeName(type: NamespaceType): string {
  return kindOf(type)?.name ?? (type === 0 ? "unspecified" : String(type));
}

/** Left-aligned columns separated by two spaces; `headers` null prints rows only. */
export function formatTable(headers: string[] | null, rows: string[][]): string {
  const all = headers ? [headers, ...rows] : rows;
  if (all.length === 0) return "";
  const widths = all[0].map((_, column) => Math.max(...all.map((row) => row[column].length)));
  return all.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join("  ") + "\n").join("");
}

/** `KEY  value` lines, keys padded to one width. */
export function formatKeyValues(pairs: [string, string][]): string {
  return formatTable(null, pairs);
}

/** The columns of a NamespaceInfo: "-" marks an owner out of view and an unset uid or parent. */
export const INFO_COLUMNS = ["TYPE", "NS", "DEVICE", "OWNER-USERNS", "OWNER-UID", "PARENT"];

/** One NamespaceInfo as cells in INFO_COLUMNS order. */
export function infoCells(info: NamespaceInfo | undefined): string[] {
  if (!info) return INFO_COLUMNS.map(() => "-");
  return [
    typeName(info.type),
    info.nsId.toString(),
    info.device.toString(),
    info.ownerUserNsId === 0n ? "-" : info.ownerUserNsId.toString(),
    info.ownerUid === undefined ? "-" : String(info.ownerUid),
    info.parentNsId === undefined ? "-" : info.parentNsId.toString(),
  ];
}

/** Human form of one NamespaceInfo: key/value lines. */
export function formatInfo(info: NamespaceInfo | undefined): string {
  const cells = infoCells(info);
  return formatKeyValues(INFO_COLUMNS.map((key, index) => [key, cells[index]]));
}

/** Human form of several NamespaceInfo: an lsns-like table. */
export function formatInfoTable(infos: NamespaceInfo[]): string {
  return formatTable(INFO_COLUMNS, infos.map(infoCells));
}

/** Human form of handles: `HANDLE TYPE NS` lines, no heading, for `while read`. */
export function formatHandles(handles: Handle[]): string {
  return formatTable(null, handles.map((handle) => [handle.id, typeName(handle.info?.type ?? 0), handle.info?.nsId.toString() ?? "-"]));
}

