/** The version of lxnsd and lxnsctl (`--version`); kept equal to package.json's by test/client/cli-version.test.ts. */
export const LXNSD_VERSION = "0.1.0";
