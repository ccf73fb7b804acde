/**
 * @module
 * The request fields of an intake session, written once: per field its name
 * on the wire and in programs, its rule (fields.ts), whether a change to it
 * needs a new link, where it sits in a campaign (a setting, the row key, a
 * row's own value or the campaign's default; the CSV column and the bulk
 * row's name) and what the plugin schema says of it.
 *
 * Everything else is derived from this table: the create request's body
 * (schemas.ts), `IntakeSession`'s inputs, snapshot and echoes, the campaign's
 * rows, CSV columns and defaults, the bulk rows and their fingerprint, the
 * plugin schema, and the names reissue messages use. A new optional request
 * field is one entry here (plus its rule in fields.ts when no existing rule
 * fits); test/unit/request-fields.test.ts ties the plugin schema to it.
 *
 * The order of the entries is part of stored state: the bulk fingerprint
 * hashes the reissuing non-key fields in this order (provider/campaign/links/
 * inputs.ts), so a new field goes at the end, and no entry moves.
 */
import { z } from "zod";
import { canonicalLocale, fields } from "./fields";

/** A rule of fields.ts: a zod schema for the field under the name people see. */
type Rule = (name: string) => z.ZodType<string, string>;

/**
 * Where a field sits in a campaign (`IntakeCampaign`, `IntakeCampaignLinks`,
 * the campaign CSV):
 * - `setting`: one value for every link, a property of the campaign;
 * - `key`: the row's key (the CSV column, the key of the bulk rows' map);
 * - `row`: each row's own value (a CSV column, a property of a bulk row);
 * - `row or default`: each row's own value, else the campaign's default;
 * - `default`: the campaign's default for every row, with no column.
 */
export type CampaignRole = "setting" | "key" | "row" | "row or default" | "default";

/** One request field. */
export interface RequestField {
  /** The API's name (snake_case), also the campaign CSV's column. */
  wire: string;
  /** The rule, for the wire and for inputs (fields.ts). */
  rule: Rule;
  /** The form inputs are sent and compared in (a locale's letter case), if any. */
  canonical?: (value: string) => string;
  /** Whether every request must have it. */
  required: boolean;
  /** Whether a change to it needs a new link (revoke and reissue); otherwise it changes in place. */
  reissues: boolean;
  /** Whether `IntakeSession` outputs the value it was asked for (not an output the API decides). */
  echo: boolean;
  campaign: CampaignRole;
  /**
   * For `row` and `row or default`: the property of a bulk row
   * (`IntakeCampaignLinks` rows, stored in state: never renamed), and its
   * cell in the packed row line (links/packed.ts) and among the CSV columns
   * (the key is cell 0). New fields take the next cell.
   */
  row?: { name: string; cell: number };
  /** What the field names, for generated descriptions ("the session's locale"). */
  noun: string;
  /** The plugin schema's description of the input. */
  doc: string;
  /** `klarefi sessions create`: the flag (without `--`), its argument and its help line. */
  cli: { flag: string; arg: string; help: string };
  /** For a `setting`: the description of the campaign's property. */
  campaignDoc?: string;
}

/** What most fields are: optional, a change needs a new link, and `IntakeSession` outputs it as asked. */
const OPTIONAL = { required: false, reissues: true, echo: true } as const;
/** What the fields every request must have are. */
const REQUIRED = { ...OPTIONAL, required: true } as const;

/** The request fields, by their program names, in the order of the fingerprint (see the module comment). */
export const REQUEST_FIELDS = {
  /** Case type identifier from the Klarefi dashboard, e.g. `motor_claim`: it decides what the applicant is asked. A change needs a new link. */
  caseTypeId: {
    ...REQUIRED,
    wire: "case_type_id", rule: fields.caseTypeId, noun: "case type", campaign: "setting",
    doc: "Case type identifier from the Klarefi dashboard, e.g. `motor_claim`.",
    campaignDoc: "Case type of every link, e.g. `hail_damage`.",
    cli: { flag: "case-type", arg: "<id>", help: "Case type identifier from your Klarefi dashboard, e.g. motor_claim" },
  },
  /** Your own case reference, e.g. `claim_48392`: how your system finds the case again. A change needs a new link. */
  externalCaseId: {
    ...REQUIRED,
    wire: "external_case_id", rule: fields.externalId, noun: "external case id", campaign: "key",
    doc: "Your own case reference, e.g. `claim_48392`.",
    cli: { flag: "external-case-id", arg: "<ref>", help: "Your system's case reference, e.g. claim_48392" },
  },
  /** Your own applicant reference, e.g. `applicant_789`: who the link is for. A change needs a new link. */
  externalApplicantId: {
    ...REQUIRED,
    wire: "external_applicant_id", rule: fields.externalId, noun: "external applicant id", campaign: "row", row: { name: "applicant", cell: 1 },
    doc: "Your own applicant reference, e.g. `applicant_789`.",
    cli: { flag: "external-applicant-id", arg: "<ref>", help: "Your system's applicant reference, e.g. applicant_789" },
  },
  /** Where the hosted page sends the applicant when done; https only (http for localhost). A change needs a new link. */
  returnUrl: {
    ...OPTIONAL,
    wire: "return_url", rule: fields.returnUrl, noun: "return URL", campaign: "row or default", row: { name: "returnUrl", cell: 3 },
    doc: "Where the hosted page sends the applicant when done; https only.",
    cli: { flag: "return-url", arg: "<url>", help: "Where the applicant goes when done (https://, or http://localhost)" },
  },
  /** BCP 47 language tag of the hosted page, e.g. `nl` or `nl-BE`; sent and compared in canonical case. A change needs a new link. */
  locale: {
    ...OPTIONAL,
    wire: "locale", rule: fields.locale, canonical: canonicalLocale, noun: "locale", campaign: "row or default", row: { name: "locale", cell: 2 },
    doc: "BCP 47 language tag of the hosted page, e.g. `nl`.",
    cli: { flag: "locale", arg: "<tag>", help: "BCP 47 language tag, e.g. nl or nl-BE" },
  },
  /** Trace id for support and debugging, echoed by the API. A change needs a new link. */
  traceId: {
    ...OPTIONAL,
    wire: "trace_id", rule: fields.traceId, noun: "trace id", campaign: "default",
    doc: "Trace id for support and debugging; echoed by the API.",
    cli: { flag: "trace-id", arg: "<id>", help: "Trace id for support/debugging (also sent as Klarefi-Trace-Id)" },
  },
  /** When the link stops working (RFC 3339); the API's default is 30 days after creation. A new value moves an open link's deadline in place. */
  expiresAt: {
    // Moved in place (PATCH), and the session's own output (the API's default applies when absent).
    ...OPTIONAL, reissues: false, echo: false,
    wire: "expires_at", rule: fields.timestamp, noun: "expiry", campaign: "default",
    doc: "When the link stops working (RFC 3339); the API's default is 30 days after creation. A new value moves an open link's deadline in place.",
    cli: { flag: "expires-at", arg: "<time>", help: "RFC 3339 expiry of the link, e.g. 2027-03-31T00:00:00Z" },
  },
} as const satisfies Record<string, RequestField>;

type Table = typeof REQUEST_FIELDS;
/** A request field's program name: `externalApplicantId`. */
export type RequestName = keyof Table;
/** A request field's wire name: `external_applicant_id`. */
export type WireName = Table[RequestName]["wire"];
/** The fields every request must have. */
export type RequiredName = { [K in RequestName]: Table[K]["required"] extends true ? K : never }[RequestName];
/** The fields whose role in a campaign is one of `Role`. */
export type CampaignName<Role extends CampaignRole> = { [K in RequestName]: Table[K]["campaign"] extends Role ? K : never }[RequestName];
/** The fields `IntakeSession` outputs as asked. */
export type EchoName = { [K in RequestName]: Table[K]["echo"] extends true ? K : never }[RequestName];

/** Values by program name, the required fields required: `{ caseTypeId: V; …; locale?: V }`. */
export type ByName<V, Names extends RequestName = RequestName> = {
  // Mapped over the table's own keys, so each property keeps its entry's doc comment (editor hover text).
  [K in keyof Table as K extends Names & RequiredName ? K : never]: V;
} & {
  [K in keyof Table as K extends Exclude<Names, RequiredName> ? K : never]?: V | undefined;
};
/** The same by wire name: `{ case_type_id: V; …; locale?: V }`. */
export type ByWireName<V> = { [K in RequestName as Table[K]["wire"]]: K extends RequiredName ? V : V | undefined };

/** Every request field with its program name, in table order. */
export const REQUEST_FIELD_LIST: readonly (RequestField & { name: RequestName })[] = (Object.keys(REQUEST_FIELDS) as RequestName[]).map((name) => ({
  name,
  ...(REQUEST_FIELDS[name] as RequestField),
}));

/** The fields of a campaign role (or roles), in table order. */
export function campaignFields(...roles: CampaignRole[]): (RequestField & { name: RequestName })[] {
  return REQUEST_FIELD_LIST.filter((field) => roles.includes(field.campaign));
}

/**
 * The row fields of a campaign (`row` and `row or default`), in the order of
 * their cells: the CSV's columns after the key, the packed row's cells.
 */
export const ROW_FIELD_LIST = campaignFields("row", "row or default").sort((a, b) => (a.row?.cell ?? 0) - (b.row?.cell ?? 0)) as readonly (RequestField & {
  name: RequestName;
  row: { name: string; cell: number };
})[];

/**
 * The fields a campaign has a default for (`row or default`, `default`), in
 * the order its checks and schema name them: the rows' own, by cell
 * (`locale`, `returnUrl`), then the others (`traceId`, `expiresAt`).
 */
export const DEFAULT_FIELD_LIST = [...ROW_FIELD_LIST.filter((field) => field.campaign === "row or default"), ...campaignFields("default")];

/** The program name of a wire name (`external_applicant_id` → `externalApplicantId`); other names as they are. */
export function programName(name: string): string {
  return REQUEST_FIELD_LIST.find((field) => field.wire === name)?.name ?? name;
}

/** A field's rule under `shown`, then its canonical form; optional unless required. */
function ruleOf(field: RequestField, shown: string): z.ZodType<string | undefined, string | undefined> {
  const rule = field.canonical === undefined ? field.rule(shown) : field.rule(shown).transform(field.canonical);
  return field.required ? rule : rule.optional();
}

type Shape<Names extends RequestName> = { [K in Names]: K extends RequiredName ? z.ZodType<string, string> : z.ZodOptional<z.ZodType<string, string>> };

/**
 * The zod shape of the given fields (all by default) as inputs check them:
 * the rule under `prefix` + the program name, then the canonical form;
 * optional fields optional.
 */
export function inputShape<Names extends RequestName = RequestName>(names: readonly Names[] = Object.keys(REQUEST_FIELDS) as Names[], prefix = ""): Shape<Names> {
  return Object.fromEntries(names.map((name) => [name, ruleOf(REQUEST_FIELDS[name], `${prefix}${name}`)])) as Shape<Names>;
}

type WireShape = { [K in RequestName as Table[K]["wire"]]: K extends RequiredName ? z.ZodType<string, string> : z.ZodOptional<z.ZodType<string, string>> };

/** The zod shape of the fields on the wire, by wire name, with the rules as the API applies them (no canonical form). */
export function wireShape(): WireShape {
  return Object.fromEntries(REQUEST_FIELD_LIST.map((field) => [field.wire, ruleOf({ ...field, canonical: undefined }, field.wire)])) as WireShape;
}

/** The zod shape of `list` as a campaign CSV's columns check them: by wire name, in canonical form. */
export function columnShape(list: readonly RequestField[]): Record<string, z.ZodType<string | undefined, string | undefined>> {
  return Object.fromEntries(list.map((field) => [field.wire, ruleOf(field, field.wire)]));
}

type RowFieldName = CampaignName<"row" | "row or default">;
type RowKey<K extends RowFieldName> = Table[K] extends { row: { name: infer N extends string } } ? N : never;
/** A bulk row's own values by their row names: `{ applicant: V; locale?: V; returnUrl?: V }`. */
export type ByRowName<V> = { [K in RowFieldName & RequiredName as RowKey<K>]: V } & { [K in Exclude<RowFieldName, RequiredName> as RowKey<K>]?: V | undefined };
type RowShape = { [K in RowFieldName as RowKey<K>]: K extends RequiredName ? z.ZodType<string, string> : z.ZodOptional<z.ZodType<string, string>> };

/** The zod shape of a bulk row (`IntakeCampaignLinks` rows): the row fields by their row names, in canonical form. */
export function rowShape(): RowShape {
  return Object.fromEntries(ROW_FIELD_LIST.map((field) => [field.row.name, ruleOf(field, field.row.name)])) as RowShape;
}

/** A campaign row's own values (by program name) as a bulk row (by row name); absent values left out. */
export function toRowNames(values: Readonly<Partial<Record<RequestName, unknown>>>): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const field of ROW_FIELD_LIST) if (values[field.name] !== undefined) row[field.row.name] = values[field.name];
  return row;
}

/** A bulk row's values (by row name) by program name. */
export function fromRowNames(row: Readonly<Record<string, unknown>>): Partial<Record<RequestName, unknown>> {
  return Object.fromEntries(ROW_FIELD_LIST.map((field) => [field.name, row[field.row.name]]));
}

/**
 * The requests of a campaign's rows: for the campaign's settings and
 * defaults (`campaign`, by program name), a function from a row's key and
 * own values (by row name, as a bulk row holds them) to the row's request,
 * by wire name (`"wire"`, the API's body) or program name (`"program"`,
 * `IntakeSession`'s inputs). A row's own value wins over the default; every
 * value is in its canonical form. The campaign's values are resolved once,
 * so a row costs one lookup a field (a bulk campaign has 100,000 rows).
 */
export function campaignRequests(
  campaign: Readonly<Partial<Record<RequestName, string | undefined>>>,
  names: "wire" | "program",
): (key: string, own: Readonly<Record<string, unknown>>) => Record<string, string | undefined> {
  const canonical = (field: RequestField, value: unknown) =>
    typeof value !== "string" ? undefined : field.canonical === undefined ? value : field.canonical(value);
  const steps = REQUEST_FIELD_LIST.map((field): [string, (key: string, own: Readonly<Record<string, unknown>>) => string | undefined] => {
    const fixed = canonical(field, campaign[field.name]);
    const rowName = field.row?.name;
    const value =
      field.campaign === "key"
        ? (key: string) => key
        : rowName === undefined
          ? () => fixed
          : (_key: string, own: Readonly<Record<string, unknown>>) => canonical(field, own[rowName] ?? fixed);
    return [names === "wire" ? field.wire : field.name, value];
  });
  return (key, own) => {
    const out: Record<string, string | undefined> = {};
    for (const [name, value] of steps) out[name] = value(key, own);
    return out;
  };
}

/** The request body (without its idempotency key) for values by program name. */
export function toWire(values: Partial<Record<RequestName, string | undefined>>): ByWireName<string> {
  const out: Record<string, string | undefined> = {};
  for (const field of REQUEST_FIELD_LIST) out[field.wire] = values[field.name];
  return out as ByWireName<string>;
}

/** The request fields among `values`, each in the form it is sent and compared in (a locale in canonical case); absent ones left out. */
export function canonicalForms<T extends Readonly<Partial<Record<RequestName, string | undefined>>>>(values: T): T {
  const out: Partial<Record<RequestName, string>> = {};
  for (const field of REQUEST_FIELD_LIST) {
    const value = values[field.name];
    if (value !== undefined) out[field.name] = field.canonical === undefined ? value : field.canonical(value);
  }
  return out as T;
}

/** A value in the form it is sent and compared in (a locale in canonical case); other fields as they are. */
export function canonicalValue(name: string, value: string): string {
  const field = REQUEST_FIELD_LIST.find((f) => f.name === name);
  return field?.canonical === undefined ? value : field.canonical(value);
}
