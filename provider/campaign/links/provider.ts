/**
 * @module
 * The bulk campaign's behaviour, run inside the dynamic-provider process:
 * one engine resource, thousands of links. Every row keeps the guarantees of
 * an `IntakeSession` (same deterministic keys, new link before the old one is
 * revoked, revoke on destroy), and the engine writes a handful of checkpoints
 * instead of one per link.
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { expiryProblem } from "../../../contract/fields";
import { issueMessage } from "../../../contract/messages";
import type { Session } from "../../../contract/schemas";
import { engineProgress, progressReporter, type ProgressSink } from "../../engine-log";
import { baseIdempotencyKey } from "../../idempotency";
import { isRecord } from "../../intake-session/policy";
import { type ProviderConnection, sharedProviderConnection } from "../../settings";
import { sameSecond } from "../../session-ops";
import { completedSinceLastRead, createOpenSession, moveExpiry, retrieveSession, revokeSession, settleAll } from "../../session-ops";
import { REQUEST_FIELDS } from "../../../contract/request-fields";
import {
  CAMPAIGN_FIELDS,
  CampaignLinksInputs,
  type CampaignLinksOutputs,
  type DesiredRow,
  desiredRows,
  type LinkState,
  inputsDigest,
  summarize,
} from "./inputs";
import { withoutUserErrorTraces } from "../../host-errors";
import { keepingSerializedProvider, mappingPartialState, partialStateError } from "../../partial-state";
import { type CampaignPlan, planCampaign, planSize, reissueRefusal, reissuingFieldChanges } from "./plan";
import { isPacked, PACKED_LINKS_HEADER, PACKED_URLS_HEADER, packLinks, packUrls, readablePacked, unpackLinks, unpackUrls } from "./packed";
import {
  appliedCounts,
  appliedSummary,
  campaignFailureMessage,
  ConnectionBreaker,
  KEPT_COMPLETED,
  revokeFailureMessage,
  rowConcurrency,
  rowFailure,
  type RowFailure,
  runRows,
} from "./outcome";

/** Why rows were not started after the engine's cancel. */
const CANCELLED = "the run was cancelled (Ctrl-C), so no further rows were started";

/** The most failed rows an error message lists one by one. */
const MAX_LISTED_FAILURES = 20;

/**
 * The state of a campaign read back from the engine, tolerating a missing or
 * partial record. `retiring` holds old links whose revoke failed after their
 * replacement was made: every later operation tries them again.
 */
function stateFrom(olds: Record<string, unknown>): { sessions: Record<string, LinkState>; signedUrls: Record<string, string>; retiring: string[] } {
  const sessions = linksOf(olds);
  const signedUrls = isPacked(olds.urls, PACKED_URLS_HEADER)
    ? unpackUrls(olds.urls, sessions)
    : isRecord(olds.signedUrls)
      ? { ...(olds.signedUrls as Record<string, string>) }
      : {};
  return { sessions, signedUrls, retiring: retiringOf(olds) };
}

/** The links' state alone (what a plan needs), without the signed URLs. */
function linksOf(olds: Record<string, unknown>): Record<string, LinkState> {
  // The dynamic provider keeps the links packed (packed.ts); the plugin, and state written before 0.2, as maps.
  if (isPacked(olds.links, PACKED_LINKS_HEADER)) return unpackLinks(olds.links);
  return isRecord(olds.sessions) ? { ...(olds.sessions as Record<string, LinkState>) } : {};
}

function retiringOf(olds: Record<string, unknown>): string[] {
  return Array.isArray(olds.retiring) ? olds.retiring.filter((id): id is string => typeof id === "string") : [];
}

function linkState(session: Session, fp: string): LinkState {
  return { id: session.session_id, status: session.status, fp, exp: session.expires_at };
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The campaign's display name: the last part of its key scope. */
function campaignLabel(keyScope: string): string {
  return keyScope.split("/").pop() ?? keyScope;
}

/** Rows in stored links or inputs without reading them: packed lines, or a map's keys. */
function rowCountOf(props: Record<string, unknown>): number | undefined {
  const packed = typeof props.links === "string" ? readablePacked(props.links, PACKED_LINKS_HEADER) : props.rows;
  if (typeof packed === "string") {
    let n = 0;
    for (let i = packed.indexOf("\n"); i !== -1 && i < packed.length - 1; i = packed.indexOf("\n", i + 1)) n++;
    return n;
  }
  if (isRecord(props.sessions)) return Object.keys(props.sessions).length;
  return isRecord(props.rows) ? Object.keys(props.rows).length : undefined;
}

/** How a shard is named in messages: ` [3/64]`, nothing for a campaign in one resource. */
function shardSuffix(inputs: Pick<CampaignLinksInputs, "shard">): string {
  return inputs.shard === undefined || inputs.shard.count === 1 ? "" : ` [${inputs.shard.index + 1}/${inputs.shard.count}]`;
}

/**
 * A campaign's rows are spread over its shards by a hash of the external
 * case id, so a new shard count moves live links from one resource to
 * another: one resource drops them while another takes them over by
 * replaying their idempotency keys. That is safe only while dropped links
 * are kept, not revoked (`retainOnDelete`), the same two-step move as
 * switching modes; without it the change is refused before any API call.
 */
function shardProblem(olds: Record<string, unknown>, news: CampaignLinksInputs): string | undefined {
  if (olds.rows === undefined || news.retainRemovedRows === true) return undefined;
  const before = isRecord(olds.shard) && typeof olds.shard.count === "number" ? olds.shard.count : 1;
  const after = news.shard?.count ?? 1;
  if (before === after) return undefined;
  return (
    `Campaign ${campaignLabel(news.keyScope)} keeps its links in ${before} shard${before === 1 ? "" : "s"}; changing shards to ${after} moves ` +
    `live links between the campaign's resources, and the resources that give links up would revoke them. Move them as for a change of mode: ` +
    `set retainOnDelete: true and run pulumi up, then change shards and run pulumi up, then remove retainOnDelete (docs/campaigns.md, "Scale").`
  );
}

/**
 * The reissuing fields that differ between the old inputs (as stored: rows
 * packed, or a map) and the new ones. Unchanged rows and settings, the
 * common case of a preview, are found by comparing the stored values alone.
 */
function changedFields(olds: Record<string, unknown>, news: Record<string, unknown>, parsed: CampaignLinksInputs): string[] {
  if (olds.rows === undefined) return [];
  // The campaign's own request fields whose change needs new links (contract/request-fields.ts), the rotation, and the CSV (which names columns).
  const settings = [...CAMPAIGN_FIELDS.filter((name) => REQUEST_FIELDS[name].reissues), "rotation", "csvFile"];
  if (typeof olds.rows === "string" && olds.rows === news.rows && settings.every((key) => olds[key] === news[key])) return [];
  const before = CampaignLinksInputs.safeParse(olds);
  return before.success ? reissuingFieldChanges(before.data, parsed) : [];
}

/** One line for the Pulumi output: what an `up` would do to a campaign, naming the rows (up to 50). */
export function planSummary(label: string, plan: CampaignPlan, rows: number): string {
  const parts: [string, readonly string[], string][] = [
    ["create", plan.create, "+"],
    ["reissue", plan.reissue, "+-"],
    ["extend", plan.extend, "~"],
    ["keep completed", plan.keepCompleted, "~"],
    ["revoke", plan.revoke, "-"],
    ["forget", plan.forget, "-"],
  ];
  const counts = parts.filter(([, ids]) => ids.length > 0).map(([what, ids]) => `${what} ${ids.length.toLocaleString("en-US")}`);
  const touched = new Set(parts.flatMap(([, ids]) => ids));
  const unchanged = Math.max(0, rows - [...touched].filter((id) => !plan.revoke.includes(id) && !plan.forget.includes(id)).length);
  const named = parts.flatMap(([, ids, mark]) => ids.map((id) => `${mark}${id}`));
  const shown = named.slice(0, 50).join(" ") + (named.length > 50 ? ` and ${(named.length - 50).toLocaleString("en-US")} more` : "");
  return `${label}: ${counts.join(", ")}; ${unchanged.toLocaleString("en-US")} unchanged: ${shown}`;
}

/**
 * The bulk provider. It shares the `IntakeSession` provider's client, so
 * both resources of a stack stay under one concurrency cap.
 */
export class CampaignLinksProviderImpl {
  readonly #sessions: ProviderConnection;
  readonly #progress: () => ProgressSink;
  /** The breakers of the runs in flight, which the engine's cancel opens. */
  readonly #breakers = new Set<ConnectionBreaker>();
  #cancelled = false;
  /** The reissuing fields `check` found changed, by key scope, for the sentence of a refusal in `diff`. */
  readonly #changedFields = new Map<string, string[]>();
  /**
   * Inputs parsed lately, by digest: `check`, `diff` and `update` of one step
   * are sent the same inputs, and a shard's rows (thousands) need parsing and
   * fingerprinting once, not three times.
   */
  readonly #parsed = new Map<string, { inputs: CampaignLinksInputs; desired?: Map<string, DesiredRow> }>();

  constructor(sessions: ProviderConnection = sharedProviderConnection(), progress: () => ProgressSink = () => engineProgress()) {
    this.#sessions = sessions;
    this.#progress = progress;
  }

  /**
   * The engine's `Cancel` (Ctrl-C; the provider plugin forwards it, the
   * dynamic-provider host does not): runs in flight start no more rows and
   * fail with what they finished, which the engine records, so the next
   * `up` does only what is left.
   */
  cancel(): void {
    this.#cancelled = true;
    for (const breaker of this.#breakers) breaker.cancel(CANCELLED);
  }

  /** The inputs of `raw` (whose digest is `digest`), parsed once per distinct inputs (the last few are kept). */
  private parsed(raw: Record<string, unknown>, digest: string): { inputs: CampaignLinksInputs; desired?: Map<string, DesiredRow> } | z.ZodError {
    const known = this.#parsed.get(digest);
    if (known !== undefined) return known;
    const parsed = CampaignLinksInputs.safeParse(raw);
    if (!parsed.success) return parsed.error;
    const entry = { inputs: parsed.data };
    this.#parsed.set(digest, entry);
    for (const key of this.#parsed.keys()) if (this.#parsed.size > 4) this.#parsed.delete(key);
    return entry;
  }

  /** The inputs of `raw`; throws what zod found wrong (the engine checked them in `check`). */
  private inputs(raw: Record<string, unknown>, digest: string): CampaignLinksInputs {
    const parsed = this.parsed(raw, digest);
    if (parsed instanceof z.ZodError) throw parsed;
    return parsed.inputs;
  }

  /** The rows `inputs` ask for, fingerprinted once per parsed inputs. */
  private desired(inputs: CampaignLinksInputs): Map<string, DesiredRow> {
    const entry = [...this.#parsed.values()].find((e) => e.inputs === inputs);
    if (entry === undefined) return desiredRows(inputs);
    entry.desired ??= desiredRows(inputs);
    return entry.desired;
  }

  /** Called by the engine with the stack's config before the first operation. */
  configureFrom(config: { get(key: string): string | undefined }): Promise<void> {
    return this.#sessions.configureFrom(config);
  }

  async check(olds: Record<string, unknown>, news: Record<string, unknown>) {
    const problem = this.#sessions.configProblem();
    if (problem) return { inputs: news, failures: [problem] };
    // Inputs the engine already checked and stored, sent again unchanged (packed rows): nothing to check.
    const digest = inputsDigest(news);
    if (typeof news.rows === "string" && inputsDigest(olds) === digest) return { inputs: news, failures: [] };
    const checked = this.parsed(news, digest);
    if (checked instanceof z.ZodError) {
      const failures = checked.issues.map((issue) => ({ property: issue.path.map(String).join(".") || "inputs", reason: issueMessage(issue, news) }));
      return { inputs: news, failures };
    }
    const { inputs } = checked;
    // A deadline in the past is refused only when it is new: a campaign whose links expired still refreshes and destroys.
    const expiresAt = inputs.expiresAt;
    const expiry = expiresAt !== undefined && expiresAt !== olds.expiresAt ? expiryProblem("expiresAt", expiresAt, Date.now()) : undefined;
    if (expiry !== undefined) return { inputs: news, failures: [{ property: "expiresAt", reason: expiry }] };
    const shardChange = shardProblem(olds, inputs);
    if (shardChange !== undefined) return { inputs: news, failures: [{ property: "", reason: shardChange }] };
    this.#changedFields.set(inputs.keyScope + shardSuffix(inputs), changedFields(olds, news, inputs));
    // Packed rows stay packed in the engine (packed.ts); a map stays a map.
    return { inputs: typeof news.rows === "string" ? { ...inputs, rows: news.rows } : inputs, failures: [] };
  }

  /**
   * Nothing changes unless some row must be created, reissued, extended,
   * revoked or recorded. A change that would reissue live links nobody asked
   * to reissue is refused here, where the recorded links are known. The rows
   * that change are named in the Pulumi output, with the count of the rest.
   */
  async diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
    // The inputs the last up carried out in full, with every row still in state: nothing to do, no row read.
    const digest = inputsDigest(news);
    if (typeof olds.applied === "string" && olds.applied === digest && rowCountOf(olds) === rowCountOf(news)) {
      return { changes: Array.isArray(olds.retiring) && olds.retiring.length > 0, replaces: [], deleteBeforeReplace: false };
    }
    const inputs = this.inputs(news, digest);
    const sessions = linksOf(olds);
    const retiring = retiringOf(olds);
    const plan = this.planFor(sessions, olds, inputs);
    const allowed = inputs.reissue === "allow" || this.rotated(olds, inputs);
    const fields = this.#changedFields.get(inputs.keyScope + shardSuffix(inputs)) ?? [];
    const refusal = reissueRefusal(sessions, plan, { allowed, fields });
    if (refusal !== undefined) throw new Error(refusal);
    const size = planSize(plan);
    // Awaited: a preview can end before a line sent and forgotten reaches the engine.
    if (size > 0) await this.#progress().info(planSummary(campaignLabel(inputs.keyScope) + shardSuffix(inputs), plan, Object.keys(inputs.rows).length));
    return { changes: size > 0 || retiring.length > 0, replaces: [], deleteBeforeReplace: false };
  }

  private plan(olds: Record<string, unknown>, inputs: CampaignLinksInputs): CampaignPlan {
    return this.planFor(linksOf(olds), olds, inputs);
  }

  private planFor(sessions: Record<string, LinkState>, olds: Record<string, unknown>, inputs: CampaignLinksInputs): CampaignPlan {
    return planCampaign(sessions, this.desired(inputs), { rotated: this.rotated(olds, inputs), retainRemovedRows: inputs.retainRemovedRows ?? false });
  }

  async create(raw: Record<string, unknown>): Promise<{ id: string; outs: CampaignLinksOutputs }> {
    const digest = inputsDigest(raw);
    const inputs = this.inputs(raw, digest);
    const id = inputs.keyScope + (inputs.shard === undefined || inputs.shard.count === 1 ? "" : `#${inputs.shard.index + 1}of${inputs.shard.count}`);
    const outs = await this.apply({}, inputs, "create", id, digest);
    return { id, outs };
  }

  async update(id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<{ outs: CampaignLinksOutputs }> {
    const digest = inputsDigest(news);
    return { outs: await this.apply(olds, this.inputs(news, digest), "update", id, digest) };
  }

  /**
   * Carries out the plan. Every row that succeeds lands in the returned
   * state; if any row failed, the error carries that state (the engine keeps
   * it), lists the failed rows, and the next `up` does only what is left.
   */
  private async apply(
    olds: Record<string, unknown>,
    inputs: CampaignLinksInputs,
    operation: "create" | "update",
    id = inputs.keyScope,
    digest?: string,
  ): Promise<CampaignLinksOutputs> {
    const client = await this.#sessions.client();
    const { sessions, signedUrls, retiring: stillRetiring } = stateFrom(olds);
    const desired = this.desired(inputs);
    const plan = this.planFor(sessions, olds, inputs);
    const label = campaignLabel(inputs.keyScope);
    const failures: RowFailure[] = [];
    const progress = progressReporter(this.#progress(), `${label}`, planSize(plan));
    const record = (caseId: string, session: Session, fp: string) => {
      sessions[caseId] = linkState(session, fp);
      signedUrls[caseId] = session.signed_url;
    };
    const forgetRow = (caseId: string) => {
      delete sessions[caseId];
      delete signedUrls[caseId];
    };

    const retiring: string[] = [];
    // Outcome hook (outcome.ts): every stage shares one breaker, so an unreachable API stops the whole run early.
    const breaker = new ConnectionBreaker();
    if (this.#cancelled) breaker.cancel(CANCELLED);
    this.#breakers.add(breaker);
    const rows = { concurrency: rowConcurrency(client.maxConcurrency), breaker };
    const each = <T, R>(items: readonly T[], task: (item: T) => Promise<R>, onSettled?: (s: { ok: boolean; notAttempted?: boolean }) => void) =>
      runRows(items, task, { ...rows, ...(onSettled ? { onSettled } : {}) });
    let counts: Parameters<typeof appliedCounts>[0] | undefined;
    try {
      for (const result of await each(stillRetiring, (oldId) => revokeSession(client, oldId))) {
        if (!result.ok) {
          retiring.push(result.item);
          if (result.notAttempted) failures.push(rowFailure(`(replaced link ${result.item})`, result));
          else failures.push({ caseId: result.item, reason: `revoking this replaced link failed again: ${reasonOf(result.error)}` });
        }
      }
      // A reissue re-reads the live session first: an applicant who completed
      // since the last refresh keeps the session.
      const reissue = await each(plan.reissue, async (caseId): Promise<typeof KEPT_COMPLETED | undefined> => {
        const old = sessions[caseId] as LinkState;
        const row = desired.get(caseId) as DesiredRow;
        if (old.status === "open" && !this.rotated(olds, inputs)) {
          if (await completedSinceLastRead(client, old.id)) {
            sessions[caseId] = { ...old, status: "completed", fp: row.fp };
            return KEPT_COMPLETED;
          }
        }
        const { session } = await createOpenSession(client, row.fields, this.baseKey(row, inputs));
        record(caseId, session, row.fp);
        if (old.id !== session.session_id && (old.status === "open" || old.status === "completed")) {
          try {
            await revokeSession(client, old.id);
          } catch (error) {
            retiring.push(old.id);
            throw new Error(`its new link ${session.session_id} is in place, but revoking the old link ${old.id} failed (the next run tries again): ${reasonOf(error)}`);
          }
        }
        return undefined;
      }, progress.tick);
      const created = await each(plan.create, async (caseId) => {
        const row = desired.get(caseId) as DesiredRow;
        const { session } = await createOpenSession(client, row.fields, this.baseKey(row, inputs));
        record(caseId, session, row.fp);
      }, progress.tick);
      const extended = await each(plan.extend, async (caseId) => {
        const old = sessions[caseId] as LinkState;
        const row = desired.get(caseId) as DesiredRow;
        const session = await moveExpiry(client, old.id, row.fields.expires_at as string);
        record(caseId, session, row.fp);
      }, progress.tick);
      for (const caseId of plan.keepCompleted) {
        const old = sessions[caseId] as LinkState;
        sessions[caseId] = { ...old, fp: (desired.get(caseId) as DesiredRow).fp };
        progress.tick();
      }
      const revoked = await each(plan.revoke, async (caseId) => {
        await revokeSession(client, (sessions[caseId] as LinkState).id);
        forgetRow(caseId);
      }, progress.tick);
      for (const caseId of plan.forget) {
        forgetRow(caseId);
        progress.tick();
      }
      for (const result of [...reissue, ...created, ...extended, ...revoked]) {
        if (!result.ok) failures.push(rowFailure(result.item, result));
      }
      counts = { reissue, create: created, extend: extended, revoke: revoked, keptCompleted: plan.keepCompleted.length, forgotten: plan.forget.length };
    } finally {
      progress.stop();
      this.#breakers.delete(breaker);
    }
    // Outcome hook: one line that says what this run did.
    // Awaited, so that the line is in the output before a failure ends the run.
    if (counts) await this.#progress().info(appliedSummary(label, appliedCounts(counts)));

    const outs: CampaignLinksOutputs = {
      keyScope: inputs.keyScope,
      caseTypeId: inputs.caseTypeId,
      ...(inputs.rotation === undefined ? {} : { rotation: inputs.rotation }),
      sessions,
      signedUrls,
      summary: summarize(sessions),
      ...(retiring.length === 0 ? {} : { retiring }),
      ...(failures.length === 0 && digest !== undefined ? { applied: digest } : {}),
    };
    if (failures.length > 0) {
      // The engine shows an init failure through its reasons, not its message.
      const message = campaignFailureMessage(label, operation, planSize(plan), failures);
      throw partialStateError(message, id, { ...outs });
    }
    return outs;
  }

  private rotated(olds: Record<string, unknown>, inputs: CampaignLinksInputs): boolean {
    return (typeof olds.rotation === "string" ? olds.rotation : undefined) !== inputs.rotation;
  }

  private baseKey(row: DesiredRow, inputs: CampaignLinksInputs): string {
    return baseIdempotencyKey({ scope: row.scope, rotation: inputs.rotation, fields: row.fields });
  }

  /**
   * Refresh: reads every row (bounded by the client's cap), records its status
   * and drops rows the API no longer knows. Rows whose status changed are
   * listed in the Pulumi output.
   */
  async read(id: string, props: Record<string, unknown>): Promise<{ id: string; props: Record<string, unknown> }> {
    const client = await this.#sessions.client();
    const { sessions, signedUrls } = stateFrom(props);
    const changed: string[] = [];
    let movedDeadlines = 0;
    let gone = 0;
    const results = await settleAll(Object.keys(sessions), async (caseId) => {
      const old = sessions[caseId] as LinkState;
      const session = await retrieveSession(client, old.id);
      if (session === undefined) {
        changed.push(`${caseId} ${old.status} → gone`);
        gone++;
        delete sessions[caseId];
        delete signedUrls[caseId];
        return;
      }
      if (session.status !== old.status) changed.push(`${caseId} ${old.status} → ${session.status}`);
      if (!sameSecond(old.exp, session.expires_at)) movedDeadlines++;
      sessions[caseId] = { ...old, status: session.status, exp: session.expires_at };
      signedUrls[caseId] = session.signed_url;
    });
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0) {
      const first = failed[0] as { item: string; error: unknown };
      throw new Error(`Refreshing campaign ${campaignLabel(String(props.keyScope ?? id))} failed for ${failed.length} of ${results.length} links; first: ${first.item}: ${reasonOf(first.error)}`);
    }
    const summary = summarize(sessions);
    if (changed.length > 0) {
      const shown = changed.slice(0, MAX_LISTED_FAILURES).join(", ") + (changed.length > MAX_LISTED_FAILURES ? `, and ${changed.length - MAX_LISTED_FAILURES} more` : "");
      await this.#progress().info(`${campaignLabel(String(props.keyScope ?? id))}: ${changed.length} session${changed.length === 1 ? "" : "s"} changed status: ${shown}`);
    }
    // A deadline moved outside Pulumi, or a row gone: the next diff must read the rows again.
    const { applied, ...rest } = props;
    const keep = movedDeadlines === 0 && gone === 0 && applied !== undefined ? { applied } : {};
    return { id, props: { ...rest, ...keep, sessions, signedUrls, summary } };
  }

  /** Destroy: revokes every link that is not already closed. */
  async delete(_id: string, props: Record<string, unknown>): Promise<void> {
    const client = await this.#sessions.client();
    const sessions = linksOf(props);
    const retiring = retiringOf(props);
    const live: [string, { id: string }][] = Object.entries(sessions).filter(([, s]) => s.status !== "revoked" && s.status !== "expired");
    for (const id of retiring) live.push([`(replaced link ${id})`, { id }]);
    const label = campaignLabel(String(props.keyScope ?? ""));
    const progress = progressReporter(this.#progress(), label, live.length);
    let results;
    try {
      // Outcome hook: an unreachable API stops the destroy early too.
      results = await runRows(live, ([, s]) => revokeSession(client, s.id), { concurrency: rowConcurrency(client.maxConcurrency), breaker: new ConnectionBreaker(), onSettled: progress.tick });
    } finally {
      progress.stop();
    }
    const failed = results.flatMap((r) => (r.ok ? [] : [rowFailure(r.item[0], r)]));
    if (failed.length > 0) throw new Error(revokeFailureMessage(label, live.length, failed));
  }
}

let sharedImpl: CampaignLinksProviderImpl | undefined;

/** The provider process's one bulk implementation (created on first use). */
export function sharedCampaignLinksImpl(): CampaignLinksProviderImpl {
  sharedImpl ??= new CampaignLinksProviderImpl();
  return sharedImpl;
}

/**
 * The provider the dynamic-provider host calls for `IntakeCampaignLinks`,
 * loaded by package name from the installed package. API errors of the
 * methods whose errors the host prints leave without a trace (host-errors.ts).
 */
export const campaignLinksProvider: pulumi.dynamic.ResourceProvider = {
  configure: (req) => sharedCampaignLinksImpl().configureFrom(req.config),
  check: (olds, news) => withoutUserErrorTraces(() => sharedCampaignLinksImpl().check(olds, news)),
  async diff(id, olds, news) {
    const result = await withoutUserErrorTraces(() => sharedCampaignLinksImpl().diff(id, olds, news));
    // State written before the packed form (maps) is rewritten by the next up, without any API call.
    return isPacked(olds.links, PACKED_LINKS_HEADER) ? result : { ...result, changes: true };
  },
  async create(inputs) {
    const { id, outs } = await mappingPartialState(() => sharedCampaignLinksImpl().create(inputs), keepingSerializedProvider(inputs, packedState));
    return { id, outs: packedState(outs as unknown as Record<string, unknown>) };
  },
  async update(id, olds, news) {
    const { outs } = await mappingPartialState(() => sharedCampaignLinksImpl().update(id, olds, news), keepingSerializedProvider(news, packedState));
    return { outs: packedState(outs as unknown as Record<string, unknown>) };
  },
  async read(id, props) {
    const read = await withoutUserErrorTraces(() => sharedCampaignLinksImpl().read(id, props));
    return { id: read.id, props: packedState(read.props) };
  },
  delete: (id, props) => withoutUserErrorTraces(() => sharedCampaignLinksImpl().delete(id, props)),
};

/**
 * The outputs as the dynamic provider keeps them: the links and the signed
 * URLs packed into two strings (packed.ts; `urls` is a secret output), not
 * maps with a value per row.
 */
function packedState(outs: Record<string, unknown>): Record<string, unknown> {
  const { sessions, signedUrls, ...rest } = outs;
  const links = isRecord(sessions) ? (sessions as Record<string, LinkState>) : {};
  return { ...rest, links: packLinks(links), urls: packUrls(isRecord(signedUrls) ? (signedUrls as Record<string, string>) : {}, links) };
}
