// Inspect this process's network namespace, create two namespaces, release them.
const { createClient, NamespaceType } = require("../dist/client");

async function main() {
  const client = createClient(process.env.LXNSD_ADDRESS); // default: the daemon's default socket
  try {
    const { info } = await client.inspect({ ref: { type: NamespaceType.NET, source: { case: "pid", value: process.pid } } });
    console.log(`my net namespace: ${info.nsId}`);
    const { handles } = await client.unshare({
      types: [NamespaceType.NET, NamespaceType.UTS],
      options: { hostname: "sandbox", loopbackUp: true },
    });
    for (const handle of handles) {
      console.log(`new ${NamespaceType[handle.info.type].toLowerCase()} namespace ${handle.info.nsId}, handle ${handle.id}`);
      await client.close({ handle: handle.id });
    }
  } catch (err) {
    console.error(`${err.codeName}: ${err.message}`);
    process.exitCode = 1;
  } finally {
    client.disconnect();
  }
}

main();
