import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { PACKED_URLS_HEADER, packLinks, packRows, packUrls, readablePacked, unpackLinks, unpackRows, unpackUrls } from "../../provider/campaign/links/packed";
import { shardOf } from "../../provider/campaign/links/shards";

describe("the packed form of a bulk campaign", () => {
  it("gives back every row as it was, whatever characters its ids hold", () => {
    const rows = {
      "claim\t2": { applicant: "a\n2", locale: "nl" },
      claim_1: { applicant: "a1" },
      'claim "3"': { applicant: "a3", returnUrl: "https://claims.example.com/3" },
      claim_4: { applicant: "a4", returnUrl: "https://claims.example.com/4" },
    };
    expect(unpackRows(packRows(rows))).toEqual(rows);
  });

  it("writes one line per row, sorted by external case id, so a changed row is one changed line", () => {
    const before = packRows({ b: { applicant: "2" }, a: { applicant: "1" }, c: { applicant: "3" } });
    const after = packRows({ a: { applicant: "1" }, b: { applicant: "2", locale: "fr" }, c: { applicant: "3" } });
    expect(before.split("\n").slice(1)).toEqual(['["a","1"]', '["b","2"]', '["c","3"]', ""]);
    const changed = after.split("\n").filter((line, i) => line !== before.split("\n")[i]);
    expect(changed).toEqual(['["b","2","fr"]']);
  });

  it("gives back every link's state, with the expiry to the second", () => {
    const sessions = {
      c1: { id: "ses_a", status: "open" as const, fp: "0123456789ab", exp: "2027-06-30T00:00:00Z" },
      c2: { id: "ses_b", status: "completed" as const, fp: "ba9876543210", exp: "2027-06-30T12:34:56Z" },
      c3: { id: "ses_c", status: "revoked" as const, fp: "ffffffffffff", exp: "2027-01-01T00:00:00Z" },
      c4: { id: "ses_d", status: "expired" as const, fp: "000000000000", exp: "2026-12-01T00:00:00Z" },
    };
    expect(unpackLinks(packLinks(sessions))).toEqual(sessions);
  });

  it("gives back every signed URL byte for byte while writing their shared prefix and session ids once", () => {
    const sessions = { c1: { id: "ses_aaaa" }, c2: { id: "ses_bbbb" }, c3: { id: "ses_cccc" } };
    const urls = {
      c1: "https://intake.klarefi.test/i/ses_aaaa?exp=1814400000&sig=0123456789abcdef",
      c2: "https://intake.klarefi.test/i/ses_bbbb?exp=1814400000&sig=fedcba9876543210",
      c3: "https://intake.klarefi.test/i/ses_cccc?exp=1814400000&sig=00112233445566778",
    };
    const packed = packUrls(urls, sessions);
    expect(unpackUrls(packed, sessions)).toEqual(urls);
    const lines = readablePacked(packed, PACKED_URLS_HEADER);
    expect(lines).not.toContain("ses_aaaa");
    expect(lines.split("https://intake.klarefi.test/i/").length).toBe(2);
    const odd = { c1: "https://elsewhere.example/x/ses_aaaa", c2: "https://odd.example/has space/ses_bbbb", c3: "" };
    expect(unpackUrls(packUrls(odd, sessions), sessions)).toEqual(odd);
  });

  it("keeps links and signed URLs deflated, in fewer bytes than their readable lines, and still reads the readable form", () => {
    const sessions: Record<string, { id: string; status: "open"; fp: string; exp: string }> = {};
    const urls: Record<string, string> = {};
    for (let i = 0; i < 2_000; i++) {
      const id = `ses_${createHash("sha256").update(`s${i}`).digest("hex").slice(0, 24)}`;
      sessions[`claim_${i}`] = { id, status: "open", fp: createHash("sha256").update(`f${i}`).digest("hex").slice(0, 12), exp: "2027-06-30T00:00:00Z" };
      urls[`claim_${i}`] = `https://intake.klarefi.test/i/${id}?exp=1814400000&sig=${createHash("sha256").update(`u${i}`).digest("base64url")}`;
    }
    const links = packLinks(sessions);
    const packedUrls = packUrls(urls, sessions);
    expect(links.split("\n")[0]).toBe("klarefi-links/1 deflate");
    expect(packedUrls.split("\n")[0]).toBe("klarefi-urls/1 deflate");
    expect(unpackLinks(links)).toEqual(sessions);
    expect(unpackUrls(packedUrls, sessions)).toEqual(urls);
    const readableLinks = ["klarefi-links/1", ...Object.keys(sessions).sort().map((c) => JSON.stringify([c, sessions[c]?.id, "o", sessions[c]?.fp, Date.parse("2027-06-30T00:00:00Z") / 1000]))].join("\n");
    expect(links.length).toBeLessThan(readableLinks.length * 0.6);
    expect(packedUrls.length).toBeLessThan(Object.values(urls).join("\n").length * 0.6);
    expect(unpackLinks(`${readableLinks}\n`)).toEqual({ ...sessions });
  });

  it("refuses a value that is not in the packed form, naming what it expected", () => {
    expect(() => unpackRows('["a","1"]')).toThrow(/expected a first line "klarefi-rows\/1"/);
  });
});

describe("the shard of a row", () => {
  it("is 0 for a campaign in one resource, stable, and spreads rows over every shard", () => {
    expect(shardOf("claim_1", 1)).toBe(0);
    expect(shardOf("claim_1", 64)).toBe(shardOf("claim_1", 64));
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 8_000; i++) counts[shardOf(`claim_${i}`, 8)]! += 1;
    for (const n of counts) expect(n).toBeGreaterThan(800);
  });
});
