/**
 * `describe` for suites that need root and the real kernel. Not root: the
 * suite is skipped visibly, and under CI (CI=true) that is a failure, so a
 * green CI always means the privileged suites ran.
 */
export const describeRoot: jest.Describe = (() => {
  if (process.geteuid?.() === 0) return describe;
  if (process.env.CI) {
    return ((name: string) =>
      describe(name, () => {
        it("runs as root under CI", () => {
          throw new Error("privileged suite skipped: CI must run as root");
        });
      })) as unknown as jest.Describe;
  }
  return describe.skip;
})();
