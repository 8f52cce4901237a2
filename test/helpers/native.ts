import * as native from "../../native/lib";
import { childrenOf, countFds, waitFor } from "./proc";

/**
 * Registers, in the calling describe block, a leak check around each test:
 * beforeEach records how many fds are open; afterEach waits (2 s at most)
 * for native.runningChildren() to reach 0, then expects no more fds than
 * before (fewer happens: a socket of an earlier suite in this jest process
 * may close meanwhile) and no child process left. Returns the fd count recorded before the
 * running test.
 */
export function checkNativeLeaksAfterEach(): () => number {
  let baselineFds = 0;
  beforeEach(() => {
    baselineFds = countFds();
  });
  afterEach(async () => {
    await waitFor(() => native.runningChildren() === 0, 2000, "runningChildren() == 0");
    expect(countFds()).toBeLessThanOrEqual(baselineFds);
    expect(childrenOf(process.pid)).toEqual([]);
  });
  return () => baselineFds;
}
