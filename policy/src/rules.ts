/**
 * @module
 * The rules of the intake-link policy pack, as pure functions: a link
 * resource (links.ts) and the policy's settings in, violations out. Each
 * violation names the resource, the row where there is one, and the field;
 * the pack (pack.ts) hands its message to the engine. Values not known yet
 * (during `preview`) are skipped: `up` judges them once they are.
 */
import { DEFAULT_EXPIRY_DAYS } from "../../contract/schemas";
import type { LinkResource } from "./links";
import { UNKNOWN } from "./values";

/** One violation: the field (`expiresAt`, `rows.claim_1.returnUrl`), the row's case id where there is one, and the sentence. */
export interface Violation {
  field: string;
  row?: string;
  message: string;
}

const DAY_MS = 86_400_000;
/** The most rows of one campaign reported one by one; the rest are counted in one more violation. */
export const MAX_LISTED_ROWS = 20;

function plural(n: number, word: string): string {
  return `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
}

function allRows(link: LinkResource): string {
  if (link.kind !== "campaign" || link.rows === UNKNOWN) return "";
  return `; it applies to all ${plural(link.rows.length, "row")} of the campaign`;
}

/**
 * The link's expiry is at most `maxDays` ahead of `nowMs`. A link without
 * `expiresAt` is judged by the API's default (created + 30 days). An expiry
 * that does not parse or lies in the past is the provider's to refuse.
 */
export function expiryViolations(link: LinkResource, maxDays: number, nowMs: number): Violation[] {
  const value = link.expiresAt;
  if (value === UNKNOWN) return [];
  if (value === undefined) {
    if (DEFAULT_EXPIRY_DAYS <= maxDays) return [];
    return [
      {
        field: "expiresAt",
        message:
          `${link.label} has no expiresAt, so the API's default applies: ${DEFAULT_EXPIRY_DAYS} days after creation, ` +
          `more than the ${maxDays} days the policy allows (maxDays)${allRows(link)}. Set expiresAt at most ${maxDays} days ahead.`,
      },
    ];
  }
  const atMs = Date.parse(value);
  if (Number.isNaN(atMs) || atMs <= nowMs + maxDays * DAY_MS) return [];
  const days = Math.ceil((atMs - nowMs) / DAY_MS);
  return [
    {
      field: "expiresAt",
      message:
        `${link.label}: expiresAt ${value} is ${days} days ahead, more than the ${maxDays} days the policy allows (maxDays)` +
        `${allRows(link)}. Choose an expiry at most ${maxDays} days ahead; a link can be extended later without a new one.`,
    },
  ];
}

/** Whether `host` is on `allowedHosts`: an exact name, or `*.example.com` for any subdomain of example.com. */
export function hostAllowed(host: string, allowedHosts: readonly string[]): boolean {
  if (allowedHosts.length === 0) return true;
  const name = host.toLowerCase();
  return allowedHosts.some((entry) => {
    const allowed = entry.trim().toLowerCase();
    return allowed.startsWith("*.") ? name.endsWith(allowed.slice(1)) && name.length > allowed.length - 1 : name === allowed;
  });
}

/** What is wrong with a return URL under this policy (https only, on `allowedHosts` unless empty), or undefined. */
export function returnUrlProblem(value: string, allowedHosts: readonly string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${value} is not an absolute URL; use https://<host>/…`;
  }
  if (url.protocol !== "https:") return `${value} is not https; the policy allows https return URLs only`;
  if (!hostAllowed(url.hostname, allowedHosts)) {
    return `${value} goes to ${url.hostname}, which is not on the allowed list (allowedHosts: ${allowedHosts.join(", ")})`;
  }
  return undefined;
}

/**
 * Every return URL of the link is https and on `allowedHosts` (empty: any
 * host): the session's, or the campaign's default and each row's own.
 * A campaign reports its first {@link MAX_LISTED_ROWS} rows one by one and
 * counts the rest in one more violation.
 */
export function returnUrlViolations(link: LinkResource, allowedHosts: readonly string[]): Violation[] {
  const out: Violation[] = [];
  const value = link.returnUrl;
  if (typeof value === "string") {
    const problem = returnUrlProblem(value, allowedHosts);
    const where = link.kind === "campaign" ? "the campaign's returnUrl (the rows' default)" : "returnUrl";
    if (problem) out.push({ field: "returnUrl", message: `${link.label}: ${where} ${problem}.` });
  }
  if (link.kind === "campaign" && link.rows !== UNKNOWN) {
    const bad: Violation[] = [];
    for (const row of link.rows) {
      if (typeof row.returnUrl !== "string") continue;
      const problem = returnUrlProblem(row.returnUrl, allowedHosts);
      if (problem) bad.push({ field: `${row.path}.returnUrl`, row: row.caseId, message: `${link.label}, row ${row.caseId}: ${row.path}.returnUrl ${problem}.` });
    }
    out.push(...bad.slice(0, MAX_LISTED_ROWS));
    if (bad.length > MAX_LISTED_ROWS) {
      const more = bad.length - MAX_LISTED_ROWS;
      out.push({ field: "rows", message: `${link.label}: ${plural(more, "more row")} ${more === 1 ? "has a returnUrl" : "have return URLs"} the policy refuses (not listed).` });
    }
  }
  return out;
}

/**
 * `reissue: "allow"` left on the link: it was meant for one deliberate
 * reissue, and while it stays, any change to the case type, an external id,
 * the locale, the return URL or the trace id revokes links applicants already
 * hold and mails them new ones.
 */
export function reissueViolations(link: LinkResource): Violation[] {
  if (link.reissue !== "allow") return [];
  const links = link.kind === "campaign" && link.rows !== UNKNOWN ? `the ${plural(link.rows.length, "link")} of this campaign` : "this link";
  return [
    {
      field: "reissue",
      message:
        `${link.label} keeps reissue: "allow": while it stays, a change to the case type, an external id, the locale, ` +
        `the return URL or the trace id revokes ${links} and issues ${link.kind === "campaign" ? "new ones that applicants must be sent" : "a new one that the applicant must be sent"} again. ` +
        `Remove it once the intended reissue has gone through.`,
    },
  ];
}

/** One resource of the stack, as the stack policy needs it. */
export interface StackResource {
  type: string;
  name: string;
  parent?: { type: string; name: string; urn: string } | undefined;
}

/**
 * Measured per-link and bulk `up` times on the file backend
 * (`npm run bench -- --links N --mode both`, docs/bench/p500.json and
 * p1000.json, tabled in docs/campaigns.md "Measured figures").
 */
export const MEASURED_UP_SECONDS = {
  500: { perLink: 15.1, bulk: 1.8 },
  1000: { perLink: 52.8, bulk: 2.0 },
} as const;

/**
 * Per-link campaigns (`IntakeCampaign` with `mode: "per-link"`, one
 * `IntakeSession` per row, parented by the component) of more than `maxRows`
 * links, one violation each, naming bulk mode and the measured cost.
 */
export function perLinkCampaignViolations(resources: readonly StackResource[], sessionTypes: readonly string[], componentType: string, maxRows: number): Violation[] {
  const counts = new Map<string, { name: string; links: number }>();
  for (const r of resources) {
    if (!sessionTypes.includes(r.type) || r.parent?.type !== componentType) continue;
    const entry = counts.get(r.parent.urn) ?? { name: r.parent.name, links: 0 };
    entry.links++;
    counts.set(r.parent.urn, entry);
  }
  const m = MEASURED_UP_SECONDS;
  const s = (seconds: number) => `${seconds.toFixed(1)} s`;
  return [...counts.values()]
    .filter((c) => c.links > maxRows)
    .map((c) => ({
      field: "mode",
      message:
        `IntakeCampaign "${c.name}" keeps ${plural(c.links, "link")} in per-link mode (one IntakeSession each), more than ${maxRows} (maxRows). ` +
        `Use mode: "bulk": its cost grows with the number of links, per-link mode's with the square of it; measured on the file backend, ` +
        `per-link up took ${s(m[500].perLink)} for 500 links and ${s(m[1000].perLink)} for 1,000, bulk ${s(m[500].bulk)} and ${s(m[1000].bulk)} ` +
        `(docs/campaigns.md explains how to switch a live campaign without any applicant getting a new link).`,
    }));
}
