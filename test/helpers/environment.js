// jest's test environment for every suite: node's, plus one duty at the end of
// each test file, after all of the file's own hooks ran. Whatever the file
// started through the helpers (targets, daemon processes: test/helpers/leftovers.ts)
// and left running, because an assertion failed before its cleanup, is
// SIGKILLed and waited for, so that no later file counts it and jest never
// waits on it.
const { TestEnvironment } = require("jest-environment-node");

class LxnsdEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.testPath = context.testPath;
  }

  async teardown() {
    const kill = this.global.__lxnsdKillLeftovers;
    if (typeof kill === "function") {
      const left = await kill();
      if (left > 0) process.stderr.write(`test/helpers/environment: killed ${left} process(es) ${this.testPath} left running\n`);
    }
    await super.teardown();
  }
}

module.exports = LxnsdEnvironment;
