/**
 * A command line that is malformed before any call is made (missing target,
 * two types, a non-numeric pid). main.ts reports it as commander reports its
 * own errors, with exit status 2.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
