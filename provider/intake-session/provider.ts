/**
 * @module
 * The provider's behaviour, run inside the dynamic-provider process: settings,
 * the shared client, and create/read/delete against the Klarefi API.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { Dispatcher } from "undici";
import { KlarefiConflictError, KlarefiNotFoundError } from "../../client/errors";
import { Klarefi } from "../../client/klarefi";
import type { Session } from "../../contract/schemas";
import { baseIdempotencyKey, keyForGeneration, MAX_KEY_GENERATIONS, nextStep, type KeyOutcome } from "../idempotency";
import { apiFields, IntakeSessionInputs, type IntakeSessionOutputs, outputsFrom, snapshot } from "./inputs";
import { checkIntakeSessionInputs, diffIntakeSession, isRecord } from "./policy";

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
