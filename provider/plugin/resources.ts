/**
 * @module
 * The plugin's `IntakeSession`: a thin adapter from the engine's provider
 * calls to the implementation the dynamic provider runs
 * (`IntakeSessionProviderImpl`). What an adapter adds is only what a plugin
 * has and a dynamic provider has not: the key scope comes from the URN
 * instead of the resource constructor, secret outputs are marked on the
 * wire, and `read` with nothing in state is `pulumi import`. The campaign's
 * adapter is in campaign.ts.
 */
import { REQUEST_FIELD_LIST } from "../../contract/request-fields";
import type { Session } from "../../contract/schemas";
import { outputsFrom, snapshot } from "../intake-session/inputs";
import type { CheckFailure } from "../intake-session/policy";
import type { IntakeSessionProviderImpl } from "../intake-session/provider";
import { mappingPartialState } from "../partial-state";
import { retrieveSession } from "../session-ops";
import { CAMPAIGN_LINKS_TOKEN, INTAKE_SESSION_TOKEN } from "./schema";
import { hasUnknowns, keyScopeFromUrn, withSecrets } from "./values";

type Props = Record<string, unknown>;

/** What the engine asks of one resource type, with plain (unwrapped) values. */
export interface ResourceHandler {
  check(urn: string, olds: Props, news: Props): Promise<{ inputs: Props; failures: CheckFailure[] }>;
  diff(id: string, olds: Props, news: Props): Promise<{ changes: boolean; replaces: string[]; deleteBeforeReplace: boolean }>;
  create(urn: string, inputs: Props): Promise<{ id: string; outs: Props }>;
  /** Refresh when `props` holds state; `pulumi import` when it is empty (then `inputs` comes back too). */
  read(id: string, urn: string, props: Props): Promise<{ id: string; props: Props; inputs?: Props }>;
  update(id: string, olds: Props, news: Props): Promise<{ outs: Props }>;
  delete(id: string, props: Props): Promise<void>;
  /** The engine's `Cancel` (Ctrl-C): stop starting work, and let what runs return what it finished. */
  cancel?(): void;
}

/** Outputs of each type that are secret on the wire (and so encrypted in state). */
export const SECRET_OUTPUTS: Record<string, readonly string[]> = {
  [INTAKE_SESSION_TOKEN]: ["signedUrl"],
  [CAMPAIGN_LINKS_TOKEN]: ["signedUrls"],
};

/**
 * Runs a create or update; an error that carries the state of what was made
 * anyway (the engine keeps it: a mismatched session, a campaign's rows that
 * succeeded) gets the same secret marks as a result, so a partial failure
 * never writes a signed URL to state in plaintext.
 */
export function keepingSecrets<T>(secrets: readonly string[], operation: () => Promise<T>): Promise<T> {
  return mappingPartialState(operation, (properties) => withSecrets(properties, secrets));
}

/**
 * The inputs that reproduce an existing session: what `pulumi import`
 * records and prints as code, so that a program declaring them sees no
 * change. The expiry (not an echo: `echo: false` in contract/request-fields.ts)
 * is left out: a program that names none keeps the session's deadline, and
 * one that names another moves it in place.
 */
export function importedInputs(session: Session, keyScope: string): Props {
  const answered = session as unknown as Props;
  const inputs: Props = {};
  for (const field of REQUEST_FIELD_LIST) {
    if (field.echo && typeof answered[field.wire] === "string") inputs[field.name] = answered[field.wire];
  }
  inputs.keyScope = keyScope;
  return inputs;
}

/**
 * The outputs a plugin client reads that the shared implementation does not
 * store (a Node program gets them from its own inputs): the case id and the
 * request's fields, taken from the request snapshot.
 */
export function withInputEchoes(outs: Props): Props {
  const request = (typeof outs.request === "object" && outs.request !== null ? outs.request : {}) as Props;
  const echoes: Props = { caseId: outs.sessionId };
  for (const field of REQUEST_FIELD_LIST) {
    if (field.echo && typeof request[field.name] === "string") echoes[field.name] = request[field.name];
  }
  return { ...outs, ...echoes };
}

/** `klarefi:index:IntakeSession`, served by the dynamic provider's implementation. */
export function intakeSessionHandler(impl: IntakeSessionProviderImpl): ResourceHandler {
  const secrets = SECRET_OUTPUTS[INTAKE_SESSION_TOKEN] ?? [];
  return {
    async check(urn, olds, news) {
      const inputs = { ...news, keyScope: keyScopeFromUrn(urn) };
      // A preview with values not known yet: check them when they are.
      if (hasUnknowns(news)) return { inputs, failures: [] };
      const result = await impl.check(olds, inputs);
      return { inputs: result.inputs as Props, failures: result.failures };
    },
    diff: (id, olds, news) => impl.diff(id, olds, news),
    async create(_urn, inputs) {
      const { id, outs } = await keepingSecrets(secrets, () => impl.create(inputs));
      return { id, outs: withSecrets(withInputEchoes(outs as unknown as Props), secrets) };
    },
    async read(id, urn, props) {
      if (typeof props.sessionId === "string" || typeof props.request === "object") {
        const read = await impl.read(id, props);
        return { id: read.id, props: read.id === "" ? read.props : withSecrets(withInputEchoes(read.props), secrets) };
      }
      const session = await retrieveSession(await impl.client(), id);
      if (session === undefined) return { id: "", props: {} };
      if (session.status !== "open") {
        throw new Error(`Cannot import intake session ${id}: it is ${session.status}, and only an open session can be imported.`);
      }
      const keyScope = keyScopeFromUrn(urn);
      const inputs = importedInputs(session, keyScope);
      const outs = outputsFrom(session, snapshot(inputs), session.idempotency_key);
      return { id: session.session_id, props: withSecrets(withInputEchoes(outs as unknown as Props), secrets), inputs };
    },
    async update(id, olds, news) {
      const { outs } = await keepingSecrets(secrets, () => impl.update(id, olds, news));
      return { outs: withSecrets(withInputEchoes(outs as unknown as Props), secrets) };
    },
    delete: (id) => impl.delete(id),
  };
}
