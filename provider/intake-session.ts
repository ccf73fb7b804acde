import * as pulumi from "@pulumi/pulumi";
import type { Dispatcher } from "undici";
import { z } from "zod";
import { KlarefiConflictError, KlarefiNotFoundError } from "./client/errors";
import { Klarefi } from "./client/klarefi";
import { isAllowedReturnUrl, MAX_EXPIRY_DAYS, type Session } from "./client/schemas";
import { baseIdempotencyKey, keyForGeneration, MAX_KEY_GENERATIONS, nextStep, type KeyOutcome } from "./idempotency";

// ---------------------------------------------------------------------------
// Inputs

/** Inputs of an {@link IntakeSession}. Every field but `rotation` and `idempotencyKey` is sent to the API. */
export interface IntakeSessionArgs {
  /** Case type identifier from the Klarefi dashboard, e.g. `motor_claim`. */
  caseTypeId: pulumi.Input<string>;
  /** Your own case reference, e.g. `claim_48392`. */
  externalCaseId: pulumi.Input<string>;
  /** Your own applicant reference, e.g. `applicant_789`. */
  externalApplicantId: pulumi.Input<string>;
  /** Where the hosted page sends the applicant when done; https only. */
  returnUrl?: pulumi.Input<string>;
  /** BCP 47 language tag for the hosted page, e.g. `nl`. */
  locale?: pulumi.Input<string>;
  /** Trace id for support and debugging; echoed by the API. */
  traceId?: pulumi.Input<string>;
  /** When the link stops working (RFC 3339); the API's default is 30 days after creation. */
  expiresAt?: pulumi.Input<string>;
  /** Your own idempotency key; derived from the stack, the resource name and the inputs when absent. */
  idempotencyKey?: pulumi.Input<string>;
  /** Any label; change it to replace the link with a fresh one while keeping the other inputs. */
  rotation?: pulumi.Input<string>;
  /**
   * Take over an open session created outside Pulumi (by id) instead of
   * creating one; its case type and external ids must match these inputs.
   * `pulumi import` and the `import` option do not work with dynamic
   * providers, so this is how an existing link joins a stack. Only read on
   * create: removing it later changes nothing.
   */
  adoptSessionId?: pulumi.Input<string>;
}

const MAX_REF = 255;
const text = (property: string, max = MAX_REF) =>
  z
    .string({ error: `${property} must be a string` })
    .trim()
    .min(1, { error: `${property} must not be empty` })
    .max(max, { error: `${property} must be at most ${max} characters` });

/**
 * The checked inputs. `keyScope` is contributed by the resource constructor
 * (project/stack/name); it feeds the derived idempotency key and nothing else.
 */
export const IntakeSessionInputs = z.object({
  caseTypeId: text("caseTypeId", 64).regex(/^[a-z][a-z0-9_]*$/, {
    error: 'caseTypeId must be lower-case letters, digits and underscores, starting with a letter (e.g. "motor_claim")',
  }),
  externalCaseId: text("externalCaseId"),
  externalApplicantId: text("externalApplicantId"),
  returnUrl: z
    .string({ error: "returnUrl must be a string" })
    .max(2048, { error: "returnUrl must be at most 2048 characters" })
    .refine(isAllowedReturnUrl, { error: "returnUrl must be an absolute https:// URL (http:// only for localhost)" })
    .optional(),
  locale: z
    .string({ error: "locale must be a string" })
    .regex(/^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$/, { error: 'locale must be a BCP 47 language tag such as "nl" or "nl-BE"' })
    .optional(),
  traceId: z
    .string({ error: "traceId must be a string" })
    .regex(/^[\x21-\x7e]{1,128}$/, { error: "traceId must be 1 to 128 printable ASCII characters without spaces" })
    .optional(),
  expiresAt: z.iso
    .datetime({ offset: true, error: "expiresAt must be an RFC 3339 timestamp such as 2027-03-31T00:00:00Z" })
    .optional(),
  // 240 leaves room for the `~n` generation suffix within the API's 255.
  idempotencyKey: text("idempotencyKey", 240).optional(),
  rotation: text("rotation", 128).optional(),
  adoptSessionId: text("adoptSessionId", 128)
    .regex(/^[A-Za-z0-9_-]+$/, { error: "adoptSessionId must be a session id such as ses_…" })
    .optional(),
  keyScope: z.string().min(1),
});
export type IntakeSessionInputs = z.infer<typeof IntakeSessionInputs>;

/** Inputs whose change replaces the session: the API fields, the user's key and `rotation`. */
export const REPLACING_INPUTS = [
  "caseTypeId",
  "externalCaseId",
  "externalApplicantId",
  "returnUrl",
  "locale",
  "traceId",
  "expiresAt",
  "idempotencyKey",
  "rotation",
] as const satisfies readonly (keyof IntakeSessionInputs)[];
type ReplacingInput = (typeof REPLACING_INPUTS)[number];
type RequestSnapshot = Partial<Record<ReplacingInput, string>>;

// ---------------------------------------------------------------------------
// Outputs

/** What the state holds for one session. `request` is the input snapshot diff compares against. */
export interface IntakeSessionOutputs {
  sessionId: string;
  caseId: string;
  signedUrl: string;
  status: Session["status"];
  expiresAt: string;
  createdAt: string;
  idempotencyKey: string;
  caseTypeId: string;
  externalCaseId: string;
  externalApplicantId: string;
  returnUrl?: string;
  locale?: string;
  traceId?: string;
  rotation?: string;
  keyScope: string;
  request: RequestSnapshot;
}

/** The state of one session: what the API says, plus the request snapshot diff compares against. */
function outputsFrom(session: Session, keyScope: string, request: RequestSnapshot, idempotencyKey: string): IntakeSessionOutputs {
  const outs: IntakeSessionOutputs = {
    sessionId: session.session_id,
    caseId: session.case_id,
    signedUrl: session.signed_url,
    status: session.status,
    expiresAt: session.expires_at,
    createdAt: session.created_at,
    idempotencyKey,
    caseTypeId: session.case_type_id,
    externalCaseId: session.external_case_id,
    externalApplicantId: session.external_applicant_id,
    keyScope,
    request,
  };
  if (session.return_url !== null) outs.returnUrl = session.return_url;
  if (session.locale !== null) outs.locale = session.locale;
  if (session.trace_id !== null) outs.traceId = session.trace_id;
  if (request.rotation !== undefined) outs.rotation = request.rotation;
  return outs;
}

function snapshot(inputs: Partial<Record<ReplacingInput, unknown>>): RequestSnapshot {
  const out: RequestSnapshot = {};
  for (const name of REPLACING_INPUTS) {
    const value = inputs[name];
    if (typeof value === "string") out[name] = value;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Pure policies

/** A check failure as the engine shows it: the property and a reason a person can act on. */
export interface CheckFailure {
  property: string;
  reason: string;
}

/**
 * Validates inputs before any API call. Returns the normalized inputs, or one
 * failure per property. An `expiresAt` in the past (or too far ahead) is only
 * refused when it is new: a campaign whose links have expired must still
 * preview, refresh and destroy.
 */
export function checkIntakeSessionInputs(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
  now: Date = new Date(),
): { inputs: IntakeSessionInputs; failures: [] } | { inputs: Record<string, unknown>; failures: CheckFailure[] } {
  const parsed = IntakeSessionInputs.safeParse(news);
  const failures: CheckFailure[] = [];
  const seen = new Set<string>();
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const property = String(issue.path[0] ?? "inputs");
      if (seen.has(property)) continue;
      seen.add(property);
      failures.push({ property, reason: issue.code === "invalid_type" && news[property] === undefined ? `${property} is required` : issue.message });
    }
  }
  const expiresAt = news.expiresAt;
  if (typeof expiresAt === "string" && !seen.has("expiresAt") && expiresAt !== olds.expiresAt) {
    const at = Date.parse(expiresAt);
    const limit = now.getTime() + MAX_EXPIRY_DAYS * 86_400_000;
    if (at <= now.getTime()) failures.push({ property: "expiresAt", reason: `expiresAt ${expiresAt} is in the past; choose a future time` });
    else if (at > limit) failures.push({ property: "expiresAt", reason: `expiresAt ${expiresAt} is more than ${MAX_EXPIRY_DAYS} days ahead` });
  }
  if (failures.length > 0 || !parsed.success) return { inputs: news, failures };
  return { inputs: parsed.data, failures: [] };
}

/**
 * Compares the stored request snapshot with new inputs. The serialized
 * provider (`__provider`) and `keyScope` are ignored: a provider upgrade or a
 * stack rename never touches a live link. Any other change replaces the
 * session, new one first, then the old one is revoked.
 */
export function diffIntakeSession(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
): { changes: boolean; replaces: string[]; deleteBeforeReplace: false } {
  const stored: Record<string, unknown> = isRecord(olds.request) ? olds.request : legacySnapshot(olds, news);
  const replaces = REPLACING_INPUTS.filter((name) => normalize(name, stored[name]) !== normalize(name, news[name]));
  return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
}

/**
 * State written before the request snapshot existed has only outputs, where
 * `expiresAt` and `idempotencyKey` are what the API chose, not necessarily what
 * was asked. When the new inputs leave those out, the old state cannot say they
 * changed, and a live link is never replaced on a guess.
 */
function legacySnapshot(olds: Record<string, unknown>, news: Record<string, unknown>): Record<string, unknown> {
  const stored: Record<string, unknown> = snapshot(olds);
  for (const chosenByApi of ["expiresAt", "idempotencyKey"] as const) {
    if (news[chosenByApi] === undefined) delete stored[chosenByApi];
  }
  return stored;
}

function normalize(name: string, value: unknown): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") return JSON.stringify(value);
  const trimmed = value.trim();
  if (name === "expiresAt") {
    const at = Date.parse(trimmed);
    return Number.isNaN(at) ? trimmed : new Date(at).toISOString();
  }
  return trimmed;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The request body for the API, without its idempotency key. */
export function apiFields(inputs: IntakeSessionInputs) {
  return {
    case_type_id: inputs.caseTypeId,
    external_case_id: inputs.externalCaseId,
    external_applicant_id: inputs.externalApplicantId,
    return_url: inputs.returnUrl,
    locale: inputs.locale,
    trace_id: inputs.traceId,
    expires_at: inputs.expiresAt,
  };
}

// ---------------------------------------------------------------------------
// Provider implementation (runs in the dynamic-provider process)

/** Provider settings, from stack config with environment fallbacks. */
export interface ProviderSettings {
  apiKey?: string | undefined;
  baseUrl?: string | undefined;
  maxConcurrentRequests?: number | undefined;
  maxRetries?: number | undefined;
  /** An undici dispatcher for the client (a proxy agent, or a mock in tests). */
  dispatcher?: Dispatcher | undefined;
}

function clientFor(settings: ProviderSettings): Klarefi {
  return new Klarefi({
    apiKey: settings.apiKey,
    baseUrl: settings.baseUrl,
    maxConcurrency: settings.maxConcurrentRequests || DEFAULT_MAX_CONCURRENT_REQUESTS,
    maxRetries: settings.maxRetries ?? DEFAULT_PROVIDER_MAX_RETRIES,
    ...(settings.dispatcher ? { dispatcher: settings.dispatcher } : {}),
  });
}

/** Default cap on the provider's concurrent API calls, whatever `--parallel` says. */
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 8;
/** Default retries per API call: a provisioning run should ride out a burst of 429s. */
export const DEFAULT_PROVIDER_MAX_RETRIES = 6;

/** Reads `klarefi:*` stack config; the environment fills what config leaves out. */
export function settingsFromConfig(config: { get(key: string): string | undefined }): ProviderSettings {
  const number = (key: string) => {
    const raw = config.get(key);
    if (raw === undefined || raw === "") return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0) {
      throw new Error(`Stack config ${key} must be a whole number, got "${raw}".`);
    }
    return value;
  };
  return {
    apiKey: config.get("klarefi:apiKey") || process.env.KLAREFI_API_KEY,
    baseUrl: config.get("klarefi:baseUrl") || process.env.KLAREFI_BASE_URL,
    maxConcurrentRequests: number("klarefi:maxConcurrentRequests"),
    maxRetries: number("klarefi:maxRetries"),
  };
}

/**
 * The provider's behaviour. One instance per provider process holds the
 * client, whose semaphore caps concurrent API calls for every resource of
 * the stack. The engine may call a CRUD method while `configure` is still
 * running, so every method waits for the client `configure` started.
 */
export class IntakeSessionProviderImpl {
  #client: Promise<Klarefi> | undefined;
  #configuredWith: string | undefined;

  /** Called by the engine with the stack's config before the first operation. */
  configureFrom(config: { get(key: string): string | undefined }): Promise<void> {
    return this.configure(settingsFromConfig(config));
  }

  /**
   * Builds the client. The engine configures once per distinct serialized
   * provider, so state written by two builds means two calls with the same
   * settings: they share one client, and so one concurrency cap.
   */
  configure(settings: ProviderSettings): Promise<void> {
    const fingerprint = JSON.stringify([settings.apiKey, settings.baseUrl, settings.maxConcurrentRequests, settings.maxRetries]);
    if (this.#client === undefined || this.#configuredWith !== fingerprint || settings.dispatcher !== undefined) {
      this.#client = Promise.resolve().then(() => clientFor(settings));
      this.#configuredWith = fingerprint;
    }
    return this.#client.then(() => undefined);
  }

  private client(): Promise<Klarefi> {
    this.#client ??= Promise.resolve().then(() => clientFor({}));
    return this.#client;
  }

  async check(olds: Record<string, unknown>, news: Record<string, unknown>) {
    return checkIntakeSessionInputs(olds, news);
  }

  async diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
    return diffIntakeSession(olds, news);
  }

  async create(raw: Record<string, unknown>): Promise<{ id: string; outs: IntakeSessionOutputs }> {
    const inputs = IntakeSessionInputs.parse(raw);
    const client = await this.client();
    if (inputs.adoptSessionId !== undefined) return this.adoptExisting(client, inputs, inputs.adoptSessionId);
    const fields = apiFields(inputs);
    const base = baseIdempotencyKey({ scope: inputs.keyScope, rotation: inputs.rotation, fields }, inputs.idempotencyKey);
    for (let generation = 1; generation <= MAX_KEY_GENERATIONS; generation++) {
      const key = keyForGeneration(base, generation);
      let session: Session | undefined;
      let outcome: KeyOutcome;
      try {
        session = await client.sessions.create({ ...fields, idempotency_key: key });
        outcome = session.status === "open" ? { kind: "open" } : { kind: "replayed-closed", status: session.status };
      } catch (error) {
        if (!(error instanceof KlarefiConflictError && error.code === "idempotency_key_reused")) throw error;
        outcome = { kind: "key-reused-with-other-body" };
      }
      const step = nextStep(outcome, generation);
      if (step === "adopt" && session) return this.adopt(inputs, session, key);
      if (step === "give-up") break;
    }
    throw new Error(
      `Creating intake session for ${inputs.externalCaseId} gave up after ${MAX_KEY_GENERATIONS} idempotency keys that all ` +
        `named closed sessions or other requests; set a new rotation value to start a fresh series.`,
    );
  }

  /** Takes over an open session by id after checking it is the one these inputs describe. */
  private async adoptExisting(client: Klarefi, inputs: IntakeSessionInputs, id: string): Promise<{ id: string; outs: IntakeSessionOutputs }> {
    const session = await client.sessions.retrieve(id);
    if (session.status !== "open") {
      throw new Error(`Cannot adopt intake session ${id}: it is ${session.status}, and only an open session can be adopted.`);
    }
    const mismatched = (
      [
        ["caseTypeId", inputs.caseTypeId, session.case_type_id],
        ["externalCaseId", inputs.externalCaseId, session.external_case_id],
        ["externalApplicantId", inputs.externalApplicantId, session.external_applicant_id],
      ] satisfies [string, string, string][]
    ).filter(([, asked, got]) => asked !== got);
    if (mismatched.length > 0) {
      const reasons = mismatched.map(([name, asked, got]) => `${name} is "${asked}" but the session has "${got}"`).join("; ");
      throw new Error(`Cannot adopt intake session ${id}: ${reasons}.`);
    }
    return { id: session.session_id, outs: outputsFrom(session, inputs.keyScope, snapshot(inputs), session.idempotency_key) };
  }

  /**
   * Keeps a session the API answered with. If it does not match what was
   * asked, the session still goes into state (an error carrying its id makes
   * the engine record it as created-with-error) so that it is not orphaned and
   * a later destroy revokes it.
   */
  private adopt(inputs: IntakeSessionInputs, session: Session, key: string): { id: string; outs: IntakeSessionOutputs } {
    const outs = outputsFrom(session, inputs.keyScope, snapshot(inputs), key);
    const mismatched: [field: string, asked: string, got: string][] = (
      [
        ["case_type_id", inputs.caseTypeId, session.case_type_id],
        ["external_case_id", inputs.externalCaseId, session.external_case_id],
        ["external_applicant_id", inputs.externalApplicantId, session.external_applicant_id],
      ] satisfies [string, string, string][]
    ).filter(([, asked, got]) => asked !== got);
    // The API keeps expiry to the second.
    if (inputs.expiresAt !== undefined && Math.floor(Date.parse(inputs.expiresAt) / 1000) !== Math.floor(Date.parse(session.expires_at) / 1000)) {
      mismatched.push(["expires_at", inputs.expiresAt, session.expires_at]);
    }
    if (mismatched.length > 0) {
      const reasons = mismatched.map(([field, asked, got]) => `${field} is "${got}", not the requested "${asked}"`);
      throw Object.assign(
        new Error(`Intake session ${session.session_id} was created but does not match the request: ${reasons.join("; ")}.`),
        { id: session.session_id, properties: outs, reasons },
      );
    }
    return { id: session.session_id, outs };
  }

  /** Refresh: reports the session as the API sees it; a session the API no longer knows leaves state. */
  async read(id: string, props: Record<string, unknown>): Promise<{ id: string; props: Record<string, unknown> }> {
    const client = await this.client();
    let session: Session;
    try {
      session = await client.sessions.retrieve(id);
    } catch (error) {
      if (error instanceof KlarefiNotFoundError) return { id: "", props: {} };
      throw error;
    }
    const request = isRecord(props.request) ? snapshot(props.request) : snapshot(props);
    const keyScope = typeof props.keyScope === "string" ? props.keyScope : "";
    return { id: session.session_id, props: { ...outputsFrom(session, keyScope, request, session.idempotency_key) } };
  }

  /** Destroy: revokes the link. Already revoked, expired or gone counts as done. */
  async delete(id: string): Promise<void> {
    const client = await this.client();
    try {
      await client.sessions.revoke(id);
    } catch (error) {
      if (error instanceof KlarefiNotFoundError) return;
      throw error;
    }
  }
}

let sharedImpl: IntakeSessionProviderImpl | undefined;

/** The provider process's one implementation instance (created on first use). */
export function sharedIntakeSessionImpl(): IntakeSessionProviderImpl {
  sharedImpl ??= new IntakeSessionProviderImpl();
  return sharedImpl;
}

// ---------------------------------------------------------------------------
// The serialized provider and the resource

/**
 * The provider the engine's dynamic-provider host calls. It lives in the
 * installed package, so `destroy` runs the code installed now rather than the
 * code of the build that created the link.
 */
export const intakeSessionProvider: pulumi.dynamic.ResourceProvider = {
  configure: (req) => sharedIntakeSessionImpl().configureFrom(req.config),
  check: (olds, news) => sharedIntakeSessionImpl().check(olds, news),
  diff: (id, olds, news) => sharedIntakeSessionImpl().diff(id, olds, news),
  create: (inputs) => sharedIntakeSessionImpl().create(inputs),
  read: (id, props) => sharedIntakeSessionImpl().read(id, props),
  delete: (id) => sharedIntakeSessionImpl().delete(id),
};

/**
 * The serialized provider (`__provider`) stored with every session, twice.
 * The dynamic-provider host loads it as a CommonJS module and calls its
 * `handler`; this one only finds the installed provider by package name. It
 * carries no code and no secret, and at about 100 bytes it keeps state small:
 * Pulumi's closure serialization of the same object takes 2.3 KB a copy, and
 * the file backend rewrites the whole state at every step of an `up`.
 */
export const SERIALIZED_PROVIDER = `exports.handler = () => require("@klarefi/pulumi/intake-session").intakeSessionProvider;\n`;

/** The type token: what `pulumi.dynamic.Resource` would make of module `klarefi` and type `IntakeSession`. */
export const INTAKE_SESSION_TYPE = "pulumi-nodejs:dynamic/klarefi:IntakeSession";

/**
 * A Klarefi intake session: the signed link one applicant opens to submit a
 * case. `pulumi up` creates it (with a deterministic idempotency key, so an
 * interrupted run never leaves two open links), `pulumi destroy` revokes it,
 * and a change to any field sent to the API replaces it: the new link is
 * created first, then the old one is revoked.
 *
 * Credentials come from stack config (`klarefi:apiKey`, secret, and
 * `klarefi:baseUrl`) or `KLAREFI_API_KEY` / `KLAREFI_BASE_URL`; never from
 * inputs. Set `retainOnDelete: true` to leave a link working for applicants
 * who already have it when the resource leaves the stack.
 *
 * @example
 * ```ts
 * import * as klarefi from "@klarefi/pulumi";
 *
 * const session = new klarefi.IntakeSession("claim-48392", {
 *   caseTypeId: "motor_claim",
 *   externalCaseId: "claim_48392",
 *   externalApplicantId: "applicant_789",
 *   returnUrl: "https://claims.example.com/claim_48392",
 *   locale: "nl",
 * });
 * export const sessionId = session.sessionId;   // also the case id for case reads
 * export const signedUrl = session.signedUrl;   // secret
 * ```
 */
export class IntakeSession extends pulumi.CustomResource {
  /** The Klarefi session id; in v1 also the case id for case reads. */
  declare readonly sessionId: pulumi.Output<string>;
  /** The case id (equal to `sessionId` in v1). */
  declare readonly caseId: pulumi.Output<string>;
  /** The applicant's link. A secret: encrypted in state, masked in output. */
  declare readonly signedUrl: pulumi.Output<string>;
  /** `open`, `revoked`, `expired` or `completed`, as of the last create or refresh. */
  declare readonly status: pulumi.Output<string>;
  /** When the link stops working. */
  declare readonly expiresAt: pulumi.Output<string>;
  declare readonly createdAt: pulumi.Output<string>;
  /** The idempotency key the session was created with. */
  declare readonly idempotencyKey: pulumi.Output<string>;
  declare readonly caseTypeId: pulumi.Output<string>;
  declare readonly externalCaseId: pulumi.Output<string>;
  declare readonly externalApplicantId: pulumi.Output<string>;
  declare readonly returnUrl: pulumi.Output<string | undefined>;
  declare readonly locale: pulumi.Output<string | undefined>;
  declare readonly traceId: pulumi.Output<string | undefined>;

  constructor(name: string, args: IntakeSessionArgs, opts?: pulumi.CustomResourceOptions) {
    // What pulumi.dynamic.Resource does, with the serialized provider written
    // by hand instead of by closure serialization (see SERIALIZED_PROVIDER).
    const props = {
      ...args,
      __provider: SERIALIZED_PROVIDER,
      keyScope: `${pulumi.getProject()}/${pulumi.getStack()}/${name}`,
      sessionId: undefined,
      caseId: undefined,
      signedUrl: undefined,
      status: undefined,
      createdAt: undefined,
      request: undefined,
    };
    super(INTAKE_SESSION_TYPE, name, props, {
      ...opts,
      additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "signedUrl"],
    });
  }
}
