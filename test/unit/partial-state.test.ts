import { describe, expect, it } from "vitest";
import { keepingSerializedProvider, mappingPartialState, partialStateError } from "../../provider/partial-state";

const upper = (props: Record<string, unknown>) => Object.fromEntries(Object.entries(props).map(([k, v]) => [k, String(v).toUpperCase()]));

describe("the state an error carries", () => {
  it("goes through the same mapping as a result's outputs, and the error is thrown on", async () => {
    const error = Object.assign(new Error("made, then failed"), { id: "ses_1", properties: { signedUrl: "https://x/i/ses_1" } });
    await expect(mappingPartialState(() => Promise.reject(error), upper)).rejects.toBe(error);
    expect(error.properties).toEqual({ signedUrl: "HTTPS://X/I/SES_1" });
    expect(error.id).toBe("ses_1");
  });

  it("leaves an error without state as it is", async () => {
    const error = new Error("nothing made");
    await expect(mappingPartialState(() => Promise.reject(error), upper)).rejects.toBe(error);
    expect(Object.keys(error)).toEqual([]);
  });

  it("passes a result through untouched: the caller maps it", async () => {
    await expect(mappingPartialState(() => Promise.resolve({ outs: { a: "b" } }), upper)).resolves.toEqual({ outs: { a: "b" } });
  });

  it("keeps the dynamic provider's serialized provider in the state of a failed create, so refresh and destroy can load it", async () => {
    const error = partialStateError("2 of 3 links failed", "p/s/hail", { links: "…" });
    const inputs = { __provider: "exports.handler = () => require('x').provider;", rows: "…" };
    await expect(mappingPartialState(() => Promise.reject(error), keepingSerializedProvider(inputs))).rejects.toBe(error);
    expect(error.properties).toEqual({ links: "…", __provider: inputs.__provider });
    expect(error.reasons).toEqual(["2 of 3 links failed"]);
  });
});
