/**
 * @module
 * The provider's settings and its shared client, for every resource the
 * package serves (the `IntakeSession` dynamic provider, the bulk campaign's,
 * and the provider plugin's): stack config `klarefi:*` with the environment
 * as fallback, read and checked in one place (`resolveProviderSettings`),
 * and one client per provider process built from the checked settings
 * (`ProviderConnection`), so that every resource of a stack stays under one
 * concurrency cap.
 */
import type { Dispatcher } from "undici";
import { Klarefi } from "../client/klarefi";
import { type ClientSettings, firstSet, fromEnv, resolveClientSettings, type SourcedValue } from "../client/settings";

/**
 * Provider settings as a caller gives them (`ProviderConnection.configure`):
 * unchecked, each may be absent. Stack config takes the same path through
 * `settingsFromConfig`.
 */
export interface ProviderSettings {
  apiKey?: string | undefined;
  baseUrl?: string | undefined;
  maxConcurrentRequests?: number | undefined;
  maxRetries?: number | undefined;
  /** An undici dispatcher for the client (a proxy agent, or a mock in tests). */
  dispatcher?: Dispatcher | undefined;
}

/** Default cap on the provider's concurrent API calls, whatever `--parallel` says. */
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 8;
/** Default retries per API call: a provisioning run should ride out a burst of 429s. */
export const DEFAULT_PROVIDER_MAX_RETRIES = 6;

/** The stack config key the provider reads the API key from. */
export const API_KEY_CONFIG = "klarefi:apiKey";

/**
 * The command that stores the API key encrypted in stack config, for `stack`
 * when it is named: the one fix every message about a missing or plaintext
 * key gives (the provider's, the program's check in config-guard.ts, the
 * plugin's `Configure`).
 */
export function secretApiKeyCommand(stack?: string): string {
  return `pulumi config set --secret ${API_KEY_CONFIG} <your API key>${stack === undefined ? "" : ` --stack ${stack}`}`;
}

/** What the provider says when no key is configured: only the provider talks about `pulumi config set`. */
export const PROVIDER_MISSING_KEY = `No Klarefi API key configured: set it in the stack config with \`${secretApiKeyCommand()}\`, or set the KLAREFI_API_KEY environment variable.`;

/** Stack config as the engine hands it to `configure` (or the plugin's provider inputs, read the same way). */
export interface ConfigLookup {
  get(key: string): string | undefined;
}

type Environment = Record<string, string | undefined>;

/** The provider's settings, each with where it came from; what is absent is looked up next. */
interface GivenSettings {
  apiKey?: SourcedValue | undefined;
  baseUrl?: SourcedValue | undefined;
  maxConcurrency?: SourcedValue | undefined;
  maxRetries?: SourcedValue | undefined;
}

/**
 * The one place the provider's settings are checked and the environment is
 * read: a key or base URL not given comes from `KLAREFI_API_KEY` /
 * `KLAREFI_BASE_URL`, an absent cap or retry count takes the provider's
 * defaults (8 and 6, not the client's 16 and 3), and everything is checked
 * by the client's settings schema (client/settings.ts), whose
 * `KlarefiConfigError` names the source of a refused value.
 */
function resolveGiven(given: GivenSettings, env: Environment): ClientSettings {
  return resolveClientSettings(
    {
      apiKey: firstSet(given.apiKey, fromEnv(env, "KLAREFI_API_KEY")),
      baseUrl: firstSet(given.baseUrl, fromEnv(env, "KLAREFI_BASE_URL")),
      maxConcurrency: given.maxConcurrency ?? { value: DEFAULT_MAX_CONCURRENT_REQUESTS, from: "the provider's default" },
      maxRetries: given.maxRetries ?? { value: DEFAULT_PROVIDER_MAX_RETRIES, from: "the provider's default" },
    },
    PROVIDER_MISSING_KEY,
  );
}

/**
 * Reads `klarefi:*` stack config; the environment (`KLAREFI_API_KEY`,
 * `KLAREFI_BASE_URL`) fills what config leaves out. Returns the settings the
 * client is built from, checked: a `KlarefiConfigError` names where a refused
 * value came from (the stack config key or the environment variable).
 * `klarefi:maxConcurrentRequests` must be 1 or more, `klarefi:maxRetries` 0
 * or more.
 *
 * Whether `klarefi:apiKey` was set with `--secret` cannot be told here: the
 * engine marks secret config values, but the dynamic-provider host of
 * `@pulumi/pulumi` unwraps them before `configure` sees the config.
 */
export function settingsFromConfig(config: ConfigLookup, env: Environment = process.env): ClientSettings {
  const stack = (key: string): SourcedValue | undefined => {
    const value = config.get(key);
    return value === undefined || value.trim() === "" ? undefined : { value, from: `stack config ${key}` };
  };
  const settings = resolveGiven(
    {
      apiKey: stack(API_KEY_CONFIG),
      baseUrl: stack("klarefi:baseUrl"),
      maxConcurrency: stack("klarefi:maxConcurrentRequests"),
      maxRetries: stack("klarefi:maxRetries"),
    },
    env,
  );
  return { ...settings, baseUrlFrom: settings.baseUrlFrom ?? "stack config klarefi:baseUrl (not set, so the default)" };
}

/**
 * Checks settings a caller gave (`ProviderConnection.configure`), with the
 * same environment fallbacks and defaults as stack config. A refused value
 * is named as "the <name> setting".
 */
export function resolveProviderSettings(settings: ProviderSettings, env: Environment = process.env): ClientSettings {
  const setting = (name: keyof ProviderSettings): SourcedValue | undefined =>
    settings[name] === undefined ? undefined : { value: settings[name], from: `the ${name} setting` };
  return resolveGiven(
    {
      apiKey: setting("apiKey"),
      baseUrl: setting("baseUrl"),
      maxConcurrency: setting("maxConcurrentRequests"),
      maxRetries: setting("maxRetries"),
    },
    env,
  );
}

/** The problem of a stack config in one sentence (a refused setting, no key), or undefined when it is usable. */
export function configProblemOf(config: ConfigLookup, env: Environment = process.env): string | undefined {
  try {
    settingsFromConfig(config, env);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * The provider process's client. The engine may call a resource method while
 * `configure` is still running, so `client()` waits for the client
 * `configure` started; a method called before any `configure` gets a client
 * from the environment alone. Every resource type of the process shares the
 * one connection (`sharedProviderConnection`), and so one concurrency cap.
 */
export class ProviderConnection {
  #client: Promise<Klarefi> | undefined;
  #configuredWith: string | undefined;
  #configError: Error | undefined;

  /**
   * Called by the engine with the stack's config before the first operation.
   * A config problem does not fail here (the host would print it with a stack
   * trace): `configProblem` hands it to `check`, which reports it as one clean
   * failure before any API call, and every later operation fails with the
   * same error rather than falling back to the environment.
   */
  configureFrom(config: ConfigLookup): Promise<void> {
    let settings: ClientSettings;
    try {
      settings = settingsFromConfig(config);
    } catch (error) {
      this.#configError = error as Error;
      this.#failWith(error as Error);
      return Promise.resolve();
    }
    this.#configError = undefined;
    return this.use(settings);
  }

  /**
   * Configures from settings given directly (a program or a test), checked
   * like stack config. A refused setting rejects, and every later operation
   * fails with the same error.
   */
  configure(settings: ProviderSettings): Promise<void> {
    let resolved: ClientSettings;
    try {
      resolved = resolveProviderSettings(settings);
    } catch (error) {
      this.#failWith(error as Error);
      return Promise.reject(error as Error);
    }
    return this.use(resolved, settings.dispatcher);
  }

  /** Every later operation fails with `error`. */
  #failWith(error: Error): void {
    const failed = Promise.reject(error);
    failed.catch(() => undefined);
    this.#client = failed;
    this.#configuredWith = undefined;
  }

  /**
   * Builds the client from settings already checked. The engine configures
   * once per distinct serialized provider, so state written by two builds
   * means two calls with the same settings: they share one client, and so
   * one concurrency cap.
   */
  use(settings: ClientSettings, dispatcher?: Dispatcher): Promise<void> {
    const fingerprint = JSON.stringify([settings.apiKey, settings.baseUrl.href, settings.maxConcurrency, settings.maxRetries]);
    if (this.#client === undefined || this.#configuredWith !== fingerprint || dispatcher !== undefined) {
      this.#client = Promise.resolve().then(() => Klarefi.fromSettings(settings, dispatcher === undefined ? {} : { dispatcher }));
      this.#configuredWith = fingerprint;
    }
    return this.#client.then(() => undefined);
  }

  /** The stack config problem `configureFrom` found, if any, as a check failure for `check` to report before any API call. */
  configProblem(): { property: string; reason: string } | undefined {
    return this.#configError === undefined ? undefined : { property: "", reason: this.#configError.message };
  }

  /** The client `configure` built; before any `configure`, one from the environment alone. */
  client(): Promise<Klarefi> {
    this.#client ??= Promise.resolve().then(() => Klarefi.fromSettings(resolveGiven({}, process.env)));
    return this.#client;
  }
}

let shared: ProviderConnection | undefined;

/** The provider process's one connection (made on first use): every resource type's implementation uses it. */
export function sharedProviderConnection(): ProviderConnection {
  shared ??= new ProviderConnection();
  return shared;
}
