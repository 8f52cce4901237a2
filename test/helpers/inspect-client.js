// A separate caller for the unix peer tests, run under another uid: inspects
// this process's net namespace at ADDRESS and prints {code, nsId}.
const { createClient, NamespaceType } = require("../../dist/client");

const [address] = process.argv.slice(2);
const client = createClient(address);
client
  .inspect({ ref: { type: NamespaceType.NET, source: { case: "pid", value: process.pid } } })
  .then(
    ({ info }) => ({ code: "OK", nsId: info.nsId.toString() }),
    (err) => ({ code: err.codeName ?? String(err), message: err.message }),
  )
  .then((result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    client.disconnect();
  });
