/**
 * @module
 * The provider's behaviour, run inside the dynamic-provider process: settings,
 * the shared client, and create/read/delete against the Klarefi API.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { Dispatcher } from "undici";
import { DEFAULT_BASE_URL, Klarefi } from "../../client/klarefi";
import { firstSet, fromEnv, resolveClientSettings, type SourcedValue } from "../../client/settings";
import type { Session } from "../../contract/schemas";
import { baseIdempotencyKey } from "../idempotency";
import { withoutUserErrorTraces } from "../host-errors";
import { mappingPartialState } from "../partial-state";
import { createOpenSession, moveExpiry, retrieveSession, revokeSession, sameSecond } from "../session-ops";
import { apiFields, IntakeSessionInputs, type IntakeSessionOutputs, keptOutputs, outputsFrom, REISSUE_REQUESTS, snapshot } from "./inputs";
import { type CheckFailure, checkIntakeSessionInputs, diffIntakeSession, expiryChanged, isRecord } from "./policy";
import { flatInputs, fullOutputs, storedInputs, storedOutputs } from "./stored";

/** Provider settings, from stack config with environment fallbacks. */
export interface ProviderSettings {
  apiKey?: string | undefined;
  baseUrl?: string | undefined;
  /** Where `baseUrl` came from (`stack config klarefi:baseUrl` or `KLAREFI_BASE_URL`), named when the API cannot be reached. */
  baseUrlFrom?: string | undefined;
  maxConcurrentRequests?: number | undefined;
  maxRetries?: number | undefined;
  /** An undici dispatcher for the client (a proxy agent, or a mock in tests). */
  dispatcher?: Dispatcher | undefined;
}

/** Default cap on the provider's concurrent API calls, whatever `--parallel` says. */
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 8;
/** Default retries per API call: a provisioning run should ride out a burst of 429s. */
export const DEFAULT_PROVIDER_MAX_RETRIES = 6;

/** What the provider says when no key is configured: only the provider talks about `pulumi config set`. */
export const PROVIDER_MISSING_KEY =
  "No Klarefi API key configured: set it in the stack config with `pulumi config set --secret klarefi:apiKey <key>`, or set the KLAREFI_API_KEY environment variable.";

const NO_STACK_CONFIG = { get: (): string | undefined => undefined };

/**
 * The client for a set of settings. Settings without a key (the engine called
 * a method before `configure`) are filled from the environment, with the
 * provider's wording when the key is missing there too.
 */
function clientFor(settings: ProviderSettings): Klarefi {
  const fallback = settings.apiKey === undefined ? settingsFromConfig(NO_STACK_CONFIG) : undefined;
  return new Klarefi({
    apiKey: settings.apiKey ?? fallback?.apiKey,
    baseUrl: settings.baseUrl ?? fallback?.baseUrl,
    baseUrlFrom: (settings.baseUrl === undefined ? fallback?.baseUrlFrom : settings.baseUrlFrom) ?? "stack config klarefi:baseUrl",
    maxConcurrency: settings.maxConcurrentRequests ?? DEFAULT_MAX_CONCURRENT_REQUESTS,
    maxRetries: settings.maxRetries ?? DEFAULT_PROVIDER_MAX_RETRIES,
    ...(settings.dispatcher ? { dispatcher: settings.dispatcher } : {}),
  });
}

/**
 * Reads `klarefi:*` stack config; the environment (`KLAREFI_API_KEY`,
 * `KLAREFI_BASE_URL`) fills what config leaves out. Every value is checked by
 * the client's settings schema (client/settings.ts), and a
 * `KlarefiConfigError` names where the refused value came from: the stack
 * config key or the environment variable. `klarefi:maxConcurrentRequests`
 * must be 1 or more, `klarefi:maxRetries` 0 or more.
 *
 * Whether `klarefi:apiKey` was set with `--secret` cannot be told here: the
 * engine marks secret config values, but the dynamic-provider host of
 * `@pulumi/pulumi` unwraps them before `configure` sees the config.
 */
export function settingsFromConfig(
  config: { get(key: string): string | undefined },
  env: Record<string, string | undefined> = process.env,
): ProviderSettings {
  const stack = (key: string): SourcedValue | undefined => {
    const value = config.get(key);
    return value === undefined || value.trim() === "" ? undefined : { value, from: `stack config ${key}` };
  };
  const apiKey = firstSet(stack("klarefi:apiKey"), fromEnv(env, "KLAREFI_API_KEY"));
  const baseUrl = firstSet(stack("klarefi:baseUrl"), fromEnv(env, "KLAREFI_BASE_URL"));
  const maxConcurrency = stack("klarefi:maxConcurrentRequests");
  const maxRetries = stack("klarefi:maxRetries");
  const checked = resolveClientSettings({ apiKey, baseUrl, maxConcurrency, maxRetries }, PROVIDER_MISSING_KEY);
  return {
    apiKey: checked.apiKey,
    baseUrl: baseUrl === undefined ? DEFAULT_BASE_URL : String(baseUrl.value),
    baseUrlFrom: baseUrl?.from ?? "stack config klarefi:baseUrl (not set, so the default)",
    maxConcurrentRequests: maxConcurrency === undefined ? undefined : checked.maxConcurrency,
    maxRetries: maxRetries === undefined ? undefined : checked.maxRetries,
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
  #configError: Error | undefined;

  /**
   * Called by the engine with the stack's config before the first operation.
   * A config problem does not fail here (the host would print it with a stack
   * trace): `check` reports it as one clean failure before any API call, and
   * every later operation fails with the same error rather than falling back
   * to the environment.
   */
  configureFrom(config: { get(key: string): string | undefined }): Promise<void> {
    let settings: ProviderSettings;
    try {
      settings = settingsFromConfig(config);
    } catch (error) {
      const failed = Promise.reject(error as Error);
      failed.catch(() => undefined);
      this.#client = failed;
      this.#configuredWith = undefined;
      this.#configError = error as Error;
      return Promise.resolve();
    }
    this.#configError = undefined;
    return this.configure(settings);
  }

  /** The stack config problem `configure` found, if any: `check` reports it before any API call. */
  configProblem(): CheckFailure | undefined {
    return this.#configError === undefined ? undefined : { property: "", reason: this.#configError.message };
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

  /** The client `configure` built (every resource of the provider process shares it, and so its concurrency cap). */
  client(): Promise<Klarefi> {
    this.#client ??= Promise.resolve().then(() => clientFor({}));
    return this.#client;
  }

  async check(olds: Record<string, unknown>, news: Record<string, unknown>) {
    const problem = this.configProblem();
    if (problem) return { inputs: news, failures: [problem] };
    return checkIntakeSessionInputs(olds, news);
  }

  /**
   * Diff from state alone (no API call), except when a live link is about to
   * be replaced: then its status is read, so that an applicant who completed
   * since the last refresh keeps the session.
   */
  async diff(id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
    const result = diffIntakeSession(olds, news);
    if (result.replaces.length === 0 || olds.status !== "open" || result.replaces.some((n) => (REISSUE_REQUESTS as readonly string[]).includes(n))) {
      return result;
    }
    const live = await retrieveSession(await this.client(), id);
    return live?.status === "completed" ? { ...result, replaces: [] } : result;
  }

  async create(raw: Record<string, unknown>): Promise<{ id: string; outs: IntakeSessionOutputs }> {
    const inputs = IntakeSessionInputs.parse(raw);
    const client = await this.client();
    if (inputs.adoptSessionId !== undefined) return this.adoptExisting(client, inputs, inputs.adoptSessionId);
    const fields = apiFields(inputs);
    const base = baseIdempotencyKey({ scope: inputs.keyScope, rotation: inputs.rotation, fields }, inputs.idempotencyKey);
    const { session, key } = await createOpenSession(client, fields, base);
    return this.adopt(inputs, session, key);
  }

  /**
   * An in-place change: a new `expiresAt` moves an open link's deadline (the
   * link stays the same); a completed session keeps its session through a
   * field change and only records the new inputs. Never reissues.
   */
  async update(id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<{ outs: IntakeSessionOutputs }> {
    const inputs = IntakeSessionInputs.parse(news);
    const request = snapshot(inputs);
    const key = typeof olds.idempotencyKey === "string" ? olds.idempotencyKey : "";
    if (olds.status === "open" && inputs.expiresAt !== undefined && expiryChanged(olds, news)) {
      const session = await moveExpiry(await this.client(), id, inputs.expiresAt);
      return { outs: outputsFrom(session, request, key) };
    }
    return { outs: keptOutputs(olds, request) };
  }

  /** Takes over an open session by id after checking it is the one these inputs describe. */
  private async adoptExisting(client: Klarefi, inputs: IntakeSessionInputs, id: string): Promise<{ id: string; outs: IntakeSessionOutputs }> {
    const session = await client.sessions.retrieve(id);
    if (session.status !== "open") {
      throw new Error(`Cannot adopt intake session ${id}: it is ${session.status}, and only an open session can be adopted.`);
    }
    const mismatched = identityMismatches(inputs, session);
    if (mismatched.length > 0) {
      const reasons = mismatched.map((m) => `${m.input} is "${m.asked}" but the session has "${m.got}"`).join("; ");
      throw new Error(`Cannot adopt intake session ${id}: ${reasons}.`);
    }
    return { id: session.session_id, outs: outputsFrom(session, snapshot(inputs), session.idempotency_key) };
  }

  /**
   * Keeps a session the API answered with. If it does not match what was
   * asked, the session still goes into state (an error carrying its id makes
   * the engine record it as created-with-error) so that it is not orphaned and
   * a later destroy revokes it.
   */
  private adopt(inputs: IntakeSessionInputs, session: Session, key: string): { id: string; outs: IntakeSessionOutputs } {
    const outs = outputsFrom(session, snapshot(inputs), key);
    const mismatched: { field: string; asked: string; got: string }[] = identityMismatches(inputs, session).map((m) => ({ ...m }));
    if (inputs.expiresAt !== undefined && !sameSecond(inputs.expiresAt, session.expires_at)) {
      mismatched.push({ field: "expires_at", asked: inputs.expiresAt, got: session.expires_at });
    }
    if (mismatched.length > 0) {
      const reasons = mismatched.map((m) => `${m.field} is "${m.got}", not the requested "${m.asked}"`);
      throw Object.assign(
        new Error(`Intake session ${session.session_id} was created but does not match the request: ${reasons.join("; ")}.`),
        { id: session.session_id, properties: outs, reasons },
      );
    }
    return { id: session.session_id, outs };
  }

  /** Refresh: reports the session as the API sees it; a session the API no longer knows leaves state. */
  async read(id: string, props: Record<string, unknown>): Promise<{ id: string; props: Record<string, unknown> }> {
    const session = await retrieveSession(await this.client(), id);
    if (session === undefined) return { id: "", props: {} };
    const request = isRecord(props.request) ? snapshot(props.request) : snapshot(props);
    return { id: session.session_id, props: { ...outputsFrom(session, request, session.idempotency_key) } };
  }

  /** Destroy: revokes the link. Already revoked, expired or gone counts as done. */
  async delete(id: string): Promise<void> {
    await revokeSession(await this.client(), id);
  }
}

/** Where a session's identity differs from the inputs that claim it (written once for adopt and create). */
function identityMismatches(inputs: IntakeSessionInputs, session: Session) {
  return (
    [
      { input: "caseTypeId", field: "case_type_id", asked: inputs.caseTypeId, got: session.case_type_id },
      { input: "externalCaseId", field: "external_case_id", asked: inputs.externalCaseId, got: session.external_case_id },
      { input: "externalApplicantId", field: "external_applicant_id", asked: inputs.externalApplicantId, got: session.external_applicant_id },
    ] as const
  ).filter((m) => m.asked !== m.got);
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
 * code of the build that created the link. It converts between the stored
 * shape (stored.ts) and the implementation's flat inputs and full outputs,
 * and lets API errors of the methods whose errors the host prints leave
 * without a trace (host-errors.ts).
 */
export const intakeSessionProvider: pulumi.dynamic.ResourceProvider = {
  configure: (req) => sharedIntakeSessionImpl().configureFrom(req.config),
  async check(olds, news) {
    const result = await sharedIntakeSessionImpl().check(flatInputs(olds), flatInputs(news));
    return result.failures.length > 0 ? { inputs: news, failures: result.failures } : { inputs: storedInputs(result.inputs), failures: [] };
  },
  diff: (id, olds, news) => withoutUserErrorTraces(() => sharedIntakeSessionImpl().diff(id, fullOutputs(id, olds), flatInputs(news))),
  async create(inputs) {
    const { id, outs } = await mappingPartialState(() => sharedIntakeSessionImpl().create(flatInputs(inputs)), storedFromFull);
    return { id, outs: storedOutputs(outs) };
  },
  async update(id, olds, news) {
    const { outs } = await mappingPartialState(() => sharedIntakeSessionImpl().update(id, fullOutputs(id, olds), flatInputs(news)), storedFromFull);
    return { outs: storedOutputs(outs) };
  },
  async read(id, props) {
    const read = await withoutUserErrorTraces(() => sharedIntakeSessionImpl().read(id, fullOutputs(id, props)));
    return read.id === "" ? read : { id: read.id, props: storedFromFull(read.props) };
  },
  delete: (id) => withoutUserErrorTraces(() => sharedIntakeSessionImpl().delete(id)),
};

/** The stored outputs for full outputs the implementation wrote. */
function storedFromFull(props: Record<string, unknown>): Record<string, unknown> {
  return { ...storedOutputs(props as unknown as IntakeSessionOutputs) };
}
