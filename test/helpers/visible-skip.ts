/**
 * `it`, or, when `ready` is false, a visible skip whose title says why; under
 * CI (CI=true) that skip is a failing test instead, so a green CI means the
 * test ran.
 */
export function itUnless(ready: boolean, reason: string): jest.It {
  if (ready) return it;
  if (process.env.CI) {
    return ((title: string) =>
      it(`${title} (cannot run: ${reason})`, () => {
        throw new Error(`skipped under CI: ${reason}`);
      })) as unknown as jest.It;
  }
  return ((title: string, fn?: jest.ProvidesCallback, timeout?: number) => it.skip(`${title} (skipped: ${reason})`, fn, timeout)) as unknown as jest.It;
}
