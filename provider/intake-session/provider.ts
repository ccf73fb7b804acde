/**
 * @module
 * The provider's behaviour, run inside the dynamic-provider process:
 * create/read/diff/update/delete against the Klarefi API, with the client of
 * the process's shared connection (provider/settings.ts).
 */
import type * as pulumi from "@pulumi/pulumi";
import type { Klarefi } from "../../client/klarefi";
import { REQUEST_FIELD_LIST } from "../../contract/request-fields";
import type { Session } from "../../contract/schemas";
import { baseIdempotencyKey } from "../idempotency";
import { withoutUserErrorTraces } from "../host-errors";
import { keepingSerializedProvider, mappingPartialState, partialStateError } from "../partial-state";
import { completedSinceLastRead, createOpenSession, moveExpiry, retrieveSession, revokeSession, sameSecond } from "../session-ops";
import { apiFields, IntakeSessionInputs, type IntakeSessionOutputs, keptOutputs, outputsFrom, REISSUE_REQUESTS, snapshot } from "./inputs";
import { checkIntakeSessionInputs, diffIntakeSession, expiryChanged, isRecord } from "./policy";
import { ProviderConnection, sharedProviderConnection } from "../settings";
import { flatInputs, fullOutputs, storedInputs, storedOutputs } from "./stored";

/**
 * The provider's behaviour. Its connection (provider/settings.ts) holds the
 * client, whose semaphore caps concurrent API calls for every resource of
 * the stack; by default a connection of its own, in the provider process the
 * shared one (`sharedIntakeSessionImpl`).
 */
export class IntakeSessionProviderImpl {
  constructor(readonly connection: ProviderConnection = new ProviderConnection()) {}

  /** The connection's client (every resource of the provider process shares it, and so its concurrency cap). */
  client(): Promise<Klarefi> {
    return this.connection.client();
  }

  async check(olds: Record<string, unknown>, news: Record<string, unknown>) {
    const problem = this.connection.configProblem();
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
    return (await completedSinceLastRead(await this.client(), id)) ? { ...result, replaces: [] } : result;
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
      throw partialStateError(
        `Intake session ${session.session_id} was created but does not match the request: ${reasons.join("; ")}.`,
        session.session_id,
        { ...outs },
        reasons,
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

/**
 * Where a session's identity (the required request fields: case type and
 * external ids) differs from the inputs that claim it (written once for adopt and create).
 */
function identityMismatches(inputs: IntakeSessionInputs, session: Session): { input: string; field: string; asked: string; got: string }[] {
  const answered = session as unknown as Record<string, unknown>;
  return REQUEST_FIELD_LIST.filter((f) => f.required)
    .map((f) => ({ input: f.name, field: f.wire, asked: String(inputs[f.name]), got: String(answered[f.wire]) }))
    .filter((m) => m.asked !== m.got);
}

let sharedImpl: IntakeSessionProviderImpl | undefined;

/** The provider process's one implementation instance (created on first use). */
export function sharedIntakeSessionImpl(): IntakeSessionProviderImpl {
  sharedImpl ??= new IntakeSessionProviderImpl(sharedProviderConnection());
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
  configure: (req) => sharedProviderConnection().configureFrom(req.config),
  async check(olds, news) {
    const result = await sharedIntakeSessionImpl().check(flatInputs(olds), flatInputs(news));
    return result.failures.length > 0 ? { inputs: news, failures: result.failures } : { inputs: storedInputs(result.inputs), failures: [] };
  },
  diff: (id, olds, news) => withoutUserErrorTraces(() => sharedIntakeSessionImpl().diff(id, fullOutputs(id, olds), flatInputs(news))),
  async create(inputs) {
    const { id, outs } = await mappingPartialState(() => sharedIntakeSessionImpl().create(flatInputs(inputs)), keepingSerializedProvider(inputs, storedFromFull));
    return { id, outs: storedOutputs(outs) };
  },
  async update(id, olds, news) {
    const { outs } = await mappingPartialState(() => sharedIntakeSessionImpl().update(id, fullOutputs(id, olds), flatInputs(news)), keepingSerializedProvider(news, storedFromFull));
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
