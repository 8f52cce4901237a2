import type { Readable } from "node:stream";

/**
 * Chunks of several streams as they come, each tagged with its source, in
 * order per source. One read is pending per source at a time, so a consumer
 * that stops pulling stops the reading (backpressure reaches the pipes).
 * Ends when every source has ended; returning early destroys them.
 */
export async function* mergeReadables<T>(sources: ReadonlyArray<{ tag: T; stream: Readable }>): AsyncGenerator<{ tag: T; chunk: Buffer }> {
  const iterators = sources.map((source) => source.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
  const pending = new Map<number, Promise<{ index: number; result: IteratorResult<Buffer> }>>();
  const pull = (index: number) => pending.set(index, iterators[index].next().then((result) => ({ index, result })));
  try {
    iterators.forEach((_, index) => pull(index));
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      pending.delete(index);
      if (result.done) continue;
      yield { tag: sources[index].tag, chunk: result.value };
      pull(index);
    }
  } finally {
    for (const source of sources) source.stream.destroy();
  }
}
