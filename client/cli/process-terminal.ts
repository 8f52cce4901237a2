import { isatty } from "node:tty";
import type { ReadStream, WriteStream } from "node:tty";
import type { LocalTerminal } from "./cli-context";

/** lxnsctl's own terminal: process.stdin and process.stdout, for programs run on a terminal. */
export function processTerminal(): LocalTerminal {
  const stdin = () => process.stdin as ReadStream;
  const stdout = process.stdout as WriteStream;
  return {
    interactive: isatty(0) && isatty(1),
    size: () => (stdout.isTTY && stdout.rows > 0 && stdout.columns > 0 ? { rows: stdout.rows, cols: stdout.columns } : undefined),
    enterRaw: () => {
      if (!isatty(0)) return () => {};
      stdin().setRawMode(true);
      let restored = false;
      const restore = () => {
        if (restored) return;
        restored = true;
        process.off("exit", restore);
        stdin().setRawMode(false);
      };
      // Whatever ends lxnsctl (an uncaught error included) leaves the terminal as it found it.
      process.on("exit", restore);
      return restore;
    },
    onResize: (listener) => {
      stdout.on("resize", listener); // node turns SIGWINCH into this when stdout is a terminal
      return () => stdout.off("resize", listener);
    },
  };
}
