// A caller for the unix peer tests that changes its groups after connecting: Inspect (which connects),
// then setgroups(GROUPS) in the same process (same pid, so /proc/PID/status now shows them), then Run
// /bin/true over the same connection. Prints {before, after, connectionKept}: the codes of the two calls.
const { createClient, NamespaceType } = require("../../dist/client");

const [address, groups] = process.argv.slice(2);
const client = createClient(address);
const codeOf = (promise) => promise.then(() => "OK", (err) => err.codeName ?? String(err));

(async () => {
  const before = await codeOf(client.inspect({ ref: { type: NamespaceType.NET, source: { case: "pid", value: process.pid } } }));
  process.setgroups(groups.split(",").map(Number));
  const after = await codeOf(client.run({ argv: ["/bin/true"] }));
  process.stdout.write(`${JSON.stringify({ before, after })}\n`);
  client.disconnect();
})();
