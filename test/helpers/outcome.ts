import { LxnsdError } from "../../client";

/** How a call ended: "OK", or the status name of the LxnsdError it rejected with (anything else is rethrown). */
export async function codeOf(call: Promise<unknown>): Promise<string> {
  return (await outcomeOf(call)).code;
}

/** As codeOf, followed by the error's reason when it has one: "PERMISSION_DENIED PIN_NOT_YOURS". */
export async function reasonOf(call: Promise<unknown>): Promise<string> {
  const { code, reason } = await outcomeOf(call);
  return reason ? `${code} ${reason}` : code;
}

async function outcomeOf(call: Promise<unknown>): Promise<{ code: string; reason?: string }> {
  try {
    await call;
    return { code: "OK" };
  } catch (err) {
    if (!(err instanceof LxnsdError)) throw err;
    return { code: err.codeName, reason: err.reason };
  }
}
