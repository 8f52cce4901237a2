import type { Readable } from "node:stream";

interface Item<T> {
  tag: T;
  chunk: Buffer;
  /** Lets the source read its next chunk. */
  next: () => void;
}

/**
 * Chunks of several streams as they come, each tagged with its source, in
 * order per source. Each source reads one chunk and waits until the consumer
 * has taken it, so a consumer that stops pulling stops the reading
 * (backpressure reaches the pipes). Ends when every source has ended;
 * returning early destroys them.
 *
 * Not built on Promise.race: racing a promise that stays pending (a quiet
 * stderr) against a busy one adds a reaction to the quiet one per race, and
 * each reaction keeps the busy stream's chunk alive until the quiet one
 * settles, so every byte of stdout would stay in memory.
 */
export async function* mergeReadables<T>(sources: ReadonlyArray<{ tag: T; stream: Readable }>): AsyncGenerator<{ tag: T; chunk: Buffer }> {
  const ready: Item<T>[] = [];
  let wake: (() => void) | undefined;
  let running = sources.length;
  let failure: { error: unknown } | undefined;
  let closed = false;
  const notify = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };

  const pumps = sources.map(async ({ tag, stream }) => {
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (closed) break;
        await new Promise<void>((next) => {
          ready.push({ tag, chunk, next });
          notify();
        });
      }
    } catch (error) {
      failure ??= { error };
    } finally {
      running -= 1;
      notify();
    }
  });

  try {
    for (;;) {
      const item = ready.shift();
      if (item) {
        yield { tag: item.tag, chunk: item.chunk };
        item.next();
        continue;
      }
      if (failure) throw failure.error;
      if (running === 0) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    closed = true;
    for (const { stream } of sources) stream.destroy();
    ready.splice(0).forEach((item) => item.next());
    await Promise.allSettled(pumps);
  }
}
