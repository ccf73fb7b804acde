import { describe, expect, it } from "vitest";
import { KlarefiAuthenticationError, KlarefiConnectionError } from "../../client/errors";
import { isUserFacing, withoutUserErrorTraces } from "../../provider/host-errors";

async function thrownBy(error: unknown): Promise<unknown> {
  try {
    await withoutUserErrorTraces(async () => {
      throw error;
    });
  } catch (caught) {
    return caught;
  }
  throw new Error("withoutUserErrorTraces did not rethrow");
}

describe("errors as they leave a dynamic provider", () => {
  it.each([
    ["an API error", new KlarefiAuthenticationError("Revoking intake session ses_1 failed: 401 invalid key (request req_1)", { operation: "Revoking intake session ses_1", status: 401 }), true],
    ["a connection error", new KlarefiConnectionError("Revoking intake session ses_1 failed: connection refused", { operation: "Revoking intake session ses_1" }), true],
    ["a sentence the provider composed", new Error("Revoking campaign hail failed for 2 of 5 links"), true],
    ["a TypeError (a bug)", new TypeError("Cannot read properties of undefined"), false],
    ["a RangeError (a bug)", new RangeError("Invalid time value"), false],
    ["a string", "boom", false],
  ])("treats %s as meant for the user: %s", (_what, error, userFacing) => {
    expect(isUserFacing(error)).toBe(userFacing);
  });

  it("rethrows an API error, same object and message, without its trace", async () => {
    const error = new KlarefiAuthenticationError("Revoking intake session ses_1 failed: 401 invalid key (request req_1)", { operation: "Revoking intake session ses_1", status: 401 });
    expect(error.stack).toContain("host-errors.test");
    const thrown = await thrownBy(error);
    expect(thrown).toBe(error);
    expect((thrown as Error).message).toBe("Revoking intake session ses_1 failed: 401 invalid key (request req_1)");
    expect((thrown as Error).stack).toBe("");
  });

  it("rethrows a bug with its trace", async () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'id')");
    const thrown = await thrownBy(bug);
    expect(thrown).toBe(bug);
    expect((thrown as Error).stack).toContain("host-errors.test");
  });

  it("answers what the operation answers when it does not throw", async () => {
    await expect(withoutUserErrorTraces(async () => 42)).resolves.toBe(42);
  });
});
