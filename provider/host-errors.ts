/**
 * @module
 * How an error leaves a dynamic provider. The dynamic-provider host of
 * `@pulumi/pulumi` prints `${error}: ${error.stack}` for every error thrown
 * from `check`, `diff`, `read` and `delete`, before the engine shows the
 * message again. The errors this package means for the user are sentences
 * that tell the whole story (what failed, for which link, the status, the
 * request id to quote to support): the client's `KlarefiError`s and the plain
 * `Error`s the providers compose (a campaign's list of failed rows). Their
 * trace is only this package's internals, so they leave without one. An error
 * of any other class (a `TypeError`, a library's own) is a bug and keeps it.
 */
import { KlarefiError } from "../client/errors";

/** Whether an error is one of the sentences meant for the user (see the module comment). */
export function isUserFacing(error: unknown): error is Error {
  return error instanceof KlarefiError || (error instanceof Error && error.constructor === Error);
}

/** Runs a provider method; an error meant for the user leaves with an empty trace, any other as it was. */
export async function withoutUserErrorTraces<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (isUserFacing(error)) error.stack = "";
    throw error;
  }
}
