// A separate caller for the disconnect test: starts `argv` through Exec at
// ADDRESS, prints the program's pid, and waits to be killed.
const { createClient } = require("../../dist/client");

const [address, ...argv] = process.argv.slice(2);
const session = createClient(address).exec({ argv });
session.started.then((pid) => process.stdout.write(`${pid}\n`));
session.wait().catch(() => {});
