// Puts the latest table into README.md between two markers.

export const START_MARKER = "<!-- bench:start -->";
export const END_MARKER = "<!-- bench:end -->";

/** `readme` with what lies between the markers replaced by `body`; throws when they are missing. */
export function replaceSection(readme: string, body: string): string {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start < 0 || end < start) throw new Error(`README has no ${START_MARKER} … ${END_MARKER} section`);
  return `${readme.slice(0, start + START_MARKER.length)}\n${body.trimEnd()}\n${readme.slice(end)}`;
}
