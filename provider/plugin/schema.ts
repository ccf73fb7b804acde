/**
 * @module
 * The Pulumi package schema of the `klarefi` provider plugin
 * (`pulumi-resource-klarefi`): what `GetSchema` answers, what the YAML
 * language host type-checks programs against, and what Pulumi's code
 * generators turn into the Python and Go SDKs (`sdk/python`, `sdk/go`, made
 * by `tools/pulumi-sdkgen`). It describes the resources the dynamic provider
 * serves to TypeScript programs, with the same inputs and outputs; the
 * descriptions are the TypeScript doc comments, shortened. The request
 * fields' properties come from their table (contract/request-fields.ts).
 */
import { campaignFields, DEFAULT_FIELD_LIST, REQUEST_FIELD_LIST, type RequestField, ROW_FIELD_LIST } from "../../contract/request-fields";

/** A property of the schema (the subset of Pulumi's schema this package uses). */
export interface SchemaProperty {
  type?: "string" | "integer" | "boolean" | "object";
  $ref?: string;
  additionalProperties?: SchemaProperty;
  description?: string;
  secret?: boolean;
  willReplaceOnChanges?: boolean;
}

/**
 * Import path of the generated Go SDK's package; the module (sdk/go/go.mod)
 * is its parent, `github.com/klarefi/pulumi/sdk/go`.
 */
export const GO_IMPORT_BASE_PATH = "github.com/klarefi/pulumi/sdk/go/klarefi";

/** Type tokens of the plugin's custom resources. */
export const INTAKE_SESSION_TOKEN = "klarefi:index:IntakeSession";
export const CAMPAIGN_LINKS_TOKEN = "klarefi:index:IntakeCampaignLinks";

/** The request fields every request must have. */
const REQUIRED_FIELDS = REQUEST_FIELD_LIST.filter((field) => field.required);

const str = (description: string, extra: Partial<SchemaProperty> = {}): SchemaProperty => ({ type: "string", description, ...extra });

/** Provider settings: stack config `klarefi:*` or the arguments of an explicit provider. */
const CONFIG: Record<string, SchemaProperty> = {
  apiKey: str(
    "Klarefi API key (`sk_test_…` or `sk_live_…`), as a secret: `pulumi config set --secret klarefi:apiKey <key>`. " +
      "A key that is not a secret is refused, so it is never stored unencrypted in state. Falls back to the KLAREFI_API_KEY environment variable.",
    { secret: true },
  ),
  baseUrl: str("Origin of the Klarefi API, e.g. `https://api.klarefi.com` (no `/api/v1`); falls back to KLAREFI_BASE_URL."),
  maxConcurrentRequests: {
    type: "integer",
    description: "Cap on the provider's concurrent API calls, whatever `--parallel` says (default 8).",
  },
  maxRetries: { type: "integer", description: "Retries of a call answered 429 or 5xx, with backoff and Retry-After (default 6)." },
};

/** The inputs of the provider's own both session resources share (the request fields are in contract/request-fields.ts). */
const SESSION_FIELDS = {
  rotation: str("Any label; change it to replace the link(s) with fresh ones while keeping the other inputs."),
  reissue: str(
    '`"allow"` lets a change that needs a new link (case type, external id, locale, return URL, trace id) revoke and reissue it. ' +
      "Without it such a change is refused before any API call.",
  ),
} satisfies Record<string, SchemaProperty>;

/** The request fields (contract/request-fields.ts) with `describe`'s description, by program name, in table order. */
function requestProperties(list: readonly (RequestField & { name: string })[], describe: (field: RequestField) => string): Record<string, SchemaProperty> {
  return Object.fromEntries(list.map((field) => [field.name, str(describe(field))]));
}

/** How the schema describes the request fields where they are not the session's own inputs. */
const described = {
  /** `IntakeSession`'s output of a field as it was asked. */
  echo: (field: RequestField) => `The session's ${field.noun}${field.required ? "" : ", if any"}.`,
  /** A campaign's property for a field: the setting, or the rows' default. */
  campaign: (field: RequestField) => field.campaignDoc ?? (field.campaign === "row or default" ? `Default ${field.noun} of the rows.` : field.doc),
  /** A bulk row's own value. */
  row: (field: RequestField) => (field.required ? `The row's ${field.noun}.` : `This row's ${field.noun}, overriding the campaign's.`),
};

const INTAKE_SESSION_INPUTS: Record<string, SchemaProperty> = {
  ...requestProperties(REQUEST_FIELD_LIST, (field) => field.doc),
  idempotencyKey: str("Your own idempotency key; derived from the stack, the resource name and the inputs when absent."),
  rotation: SESSION_FIELDS.rotation,
  adoptSessionId: str(
    "Take over an open session created outside Pulumi (by id) on the first `up` instead of creating one; its case type and " +
      "external ids must match. With this plugin, `pulumi import klarefi:index:IntakeSession <name> ses_…` does the same.",
  ),
  reissue: SESSION_FIELDS.reissue,
};

const INTAKE_SESSION_OUTPUTS: Record<string, SchemaProperty> = {
  sessionId: str("The Klarefi session id; in v1 also the case id for case reads."),
  caseId: str("The case id (equal to `sessionId` in v1)."),
  signedUrl: str("The applicant's link. A secret: encrypted in state, masked in output.", { secret: true }),
  status: str("`open`, `revoked`, `expired` or `completed`, as of the last create or refresh."),
  expiresAt: str("When the link stops working."),
  createdAt: str("When the session was created."),
  idempotencyKey: str("The idempotency key the session was created with."),
  ...requestProperties(
    REQUEST_FIELD_LIST.filter((field) => field.echo),
    described.echo,
  ),
  rotation: str("The rotation label the session was created for, if any."),
};

/** The columns of a campaign CSV, for the description of `csvFile`: the required ones, then the optional ones. */
const CSV_COLUMNS = [campaignFields("key")[0], ...ROW_FIELD_LIST].filter((field) => field !== undefined);
const CSV_REQUIRED = CSV_COLUMNS.filter((field) => field.required).map((field) => field.wire).join(",");
const CSV_OPTIONAL = CSV_COLUMNS.filter((field) => !field.required).map((field) => `\`${field.wire}\``).join(", ");

const CAMPAIGN_LINKS_INPUTS: Record<string, SchemaProperty> = {
  ...requestProperties(campaignFields("setting"), described.campaign),
  rows: {
    type: "object",
    additionalProperties: { $ref: "#/types/klarefi:index:CampaignRow" },
    description:
      "External case id → the applicant and the row's own overrides. Adding, removing or editing a row touches only that row's link. " +
      "Give `rows` or `csvFile`.",
  },
  csvFile: {
    $ref: "pulumi.json#/Asset",
    description:
      `Or the rows as a CSV file with a header row (\`${CSV_REQUIRED}\` and optional ${CSV_OPTIONAL}), ` +
      "as a file asset: `fn::fileAsset: applicants.csv` in YAML, `pulumi.FileAsset(\"applicants.csv\")` in Python (relative to the project folder). " +
      "The file is read when the program runs, with the checks and messages of `IntakeCampaign`'s `csvFile` (every problem with its line); " +
      "its rows are kept in state, so editing one line changes only that row.",
  },
  ...requestProperties(DEFAULT_FIELD_LIST, described.campaign),
  rotation: SESSION_FIELDS.rotation,
  reissue: SESSION_FIELDS.reissue,
  retainRemovedRows: { type: "boolean", description: "Rows that leave the campaign keep their links instead of being revoked." },
};

const CAMPAIGN_LINKS_OUTPUTS: Record<string, SchemaProperty> = {
  caseTypeId: str("Case type of every link."),
  rotation: str("The rotation label of the links, if any."),
  sessions: {
    type: "object",
    additionalProperties: { $ref: "#/types/klarefi:index:LinkState" },
    description: "External case id → its session (`id`, `status`, `exp`).",
  },
  signedUrls: {
    type: "object",
    additionalProperties: { type: "string" },
    secret: true,
    description: "External case id → signed URL. A secret.",
  },
  summary: { $ref: "#/types/klarefi:index:StatusSummary", description: "Counts per status, as of the last `up` or `refresh`." },
};

/** The whole schema as an object; `JSON.stringify` it for `GetSchema`. */
export function klarefiSchema(version: string): Record<string, unknown> {
  return {
    name: "klarefi",
    displayName: "Klarefi",
    version,
    description: "Klarefi intake sessions as code: signed applicant links provisioned with `pulumi up` and revoked with `pulumi destroy`.",
    keywords: ["pulumi", "klarefi", "intake", "category/utility"],
    license: "Apache-2.0",
    publisher: "Klarefi",
    repository: "https://github.com/klarefi/pulumi",
    config: { variables: CONFIG },
    provider: {
      description: "The Klarefi provider: one client per provider process, shared by every resource, with a cap on concurrent calls and retries.",
      inputProperties: CONFIG,
    },
    resources: {
      [INTAKE_SESSION_TOKEN]: {
        description:
          "A Klarefi intake session: the signed link one applicant opens to submit a case. `pulumi up` creates it with a deterministic " +
          "idempotency key (an interrupted run never leaves two open links), `pulumi destroy` revokes it. Import an existing open session " +
          "with `pulumi import klarefi:index:IntakeSession <name> <session id>`.",
        inputProperties: INTAKE_SESSION_INPUTS,
        requiredInputs: REQUIRED_FIELDS.map((field) => field.name),
        properties: INTAKE_SESSION_OUTPUTS,
        required: ["sessionId", "caseId", "signedUrl", "status", "expiresAt", "createdAt", "idempotencyKey", ...REQUIRED_FIELDS.filter((field) => field.echo).map((field) => field.name)],
      },
      [CAMPAIGN_LINKS_TOKEN]: {
        description:
          "Every link of a campaign in one resource, at the speed of the API for thousands of links: same keys and guarantees as one " +
          "IntakeSession per row, a per-row diff, and a partial failure that the next `up` completes.",
        inputProperties: CAMPAIGN_LINKS_INPUTS,
        requiredInputs: campaignFields("setting").map((field) => field.name),
        properties: CAMPAIGN_LINKS_OUTPUTS,
        required: ["caseTypeId", "sessions", "signedUrls", "summary"],
      },
    },
    types: {
      "klarefi:index:CampaignRow": {
        type: "object",
        description: "One applicant of a campaign.",
        properties: Object.fromEntries(ROW_FIELD_LIST.map((field) => [field.row.name, str(described.row(field))])),
        required: ROW_FIELD_LIST.filter((field) => field.required).map((field) => field.row.name),
      },
      "klarefi:index:LinkState": {
        type: "object",
        description: "What the state keeps for one row of a campaign.",
        properties: {
          id: str("The session id."),
          status: str("`open`, `revoked`, `expired` or `completed`."),
          fp: str("Fingerprint of the fields whose change needs a new link."),
          exp: str("When the link stops working."),
        },
        required: ["id", "status", "fp", "exp"],
      },
      "klarefi:index:StatusSummary": {
        type: "object",
        description: "Counts of a campaign's sessions per status.",
        properties: {
          total: { type: "integer" },
          open: { type: "integer" },
          completed: { type: "integer" },
          revoked: { type: "integer" },
          expired: { type: "integer" },
        },
        required: ["total", "open", "completed", "revoked", "expired"],
      },
    },
    language: {
      python: { packageName: "pulumi_klarefi", requires: { pulumi: ">=3.0.0,<4.0.0" }, respectSchemaVersion: true },
      // The Go SDK (sdk/go, module github.com/klarefi/pulumi/sdk/go): its import path, and its
      // resources ask for this version of the plugin, as the Python SDK's do.
      go: { importBasePath: GO_IMPORT_BASE_PATH, respectSchemaVersion: true },
    },
  };
}
