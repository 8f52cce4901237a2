import { execFileSync } from "node:child_process";

/**
 * A python3 that can import grpc and google.protobuf (Debian's python3-grpcio,
 * python3-protobuf), or null. $LXNSD_PYTHON when set; else python3 on PATH, then
 * /usr/bin/python3: Debian's packages serve only Debian's interpreter, and a
 * pyenv or venv python3 may come first on PATH.
 */
export function pythonWithGrpc(): string | null {
  const candidates = process.env.LXNSD_PYTHON ? [process.env.LXNSD_PYTHON] : ["python3", "/usr/bin/python3"];
  for (const python of candidates) {
    try {
      execFileSync(python, ["-c", "import grpc, google.protobuf"], { stdio: "ignore" });
      return python;
    } catch {
      // not this one
    }
  }
  return null;
}

/** Whether protoc (Debian's protobuf-compiler) is on PATH. */
export function hasProtoc(): boolean {
  try {
    execFileSync("protoc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
