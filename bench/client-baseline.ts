/**
 * @module
 * The API baseline: the same N creates, N reads and N revokes, made
 * straight through the `Klarefi` client at the provider's concurrency cap,
 * against the same local server. A campaign cannot be faster than this; the
 * bulk mode's targets are set against it.
 */
import { Klarefi } from "../client/klarefi";
import { DEFAULT_MAX_CONCURRENT_REQUESTS } from "../provider/intake-session";

/** What the baseline measured. */
export interface ClientBaseline {
  createSeconds: number;
  revokeSeconds: number;
  /** Reading every session once (the baseline of `refresh`). */
  readSeconds: number;
}

/** The request fields of row `i`, as the bench's campaign sends them. */
export interface BaselineRow {
  externalCaseId: string;
  externalApplicantId: string;
}

/**
 * Creates one session per row (every call started at once; the client's
 * semaphore keeps `DEFAULT_MAX_CONCURRENT_REQUESTS` in flight), then revokes
 * them all the same way.
 */
export async function measureClientBaseline(options: {
  baseUrl: string;
  apiKey: string;
  caseTypeId: string;
  locale: string;
  expiresAt: string;
  rows: readonly BaselineRow[];
}): Promise<ClientBaseline> {
  const client = new Klarefi({ apiKey: options.apiKey, baseUrl: options.baseUrl, maxConcurrency: DEFAULT_MAX_CONCURRENT_REQUESTS });
  try {
    let started = performance.now();
    const created = await Promise.all(
      options.rows.map((row, i) =>
        client.sessions.create({
          case_type_id: options.caseTypeId,
          idempotency_key: `bench_baseline_${i}`,
          external_case_id: row.externalCaseId,
          external_applicant_id: row.externalApplicantId,
          locale: options.locale,
          expires_at: options.expiresAt,
        }),
      ),
    );
    const createSeconds = (performance.now() - started) / 1000;
    started = performance.now();
    await Promise.all(created.map((s) => client.sessions.retrieve(s.session_id)));
    const readSeconds = (performance.now() - started) / 1000;
    started = performance.now();
    await Promise.all(created.map((s) => client.sessions.revoke(s.session_id)));
    const revokeSeconds = (performance.now() - started) / 1000;
    return { createSeconds, revokeSeconds, readSeconds };
  } finally {
    await client.close();
  }
}
