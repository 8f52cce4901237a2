import * as native from "../../native/lib";
import { fdHoldings, newHoldings } from "./fd-holdings";
import { childrenOf, waitFor } from "./proc";

/**
 * Registers, in the calling describe block, a leak check around each test:
 * beforeEach records the fd holdings (nsfs, pipe and pidfd fds, see
 * fd-holdings.ts); afterEach waits (2 s at most) for
 * native.runningChildren() to reach 0, then expects no holding that was not
 * there before and no child process left. Returns the holdings recorded
 * before the running test.
 */
export function checkNativeLeaksAfterEach(): () => Set<string> {
  let baseline = new Set<string>();
  beforeEach(() => {
    baseline = fdHoldings();
  });
  afterEach(async () => {
    await waitFor(() => native.runningChildren() === 0, 2000, "runningChildren() == 0");
    expect(newHoldings(baseline)).toEqual([]);
    expect(childrenOf(process.pid)).toEqual([]);
  });
  return () => baseline;
}
