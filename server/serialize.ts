/**
 * @module
 * Stored sessions as the API returns them: the `Session` and `Case` objects
 * of the contract, with the signed URL built at serialization time.
 */
import type { Case, CaseStatus, Session } from "../contract/schemas";
import { formatTimestamp } from "./clock";
import { buildSignedUrl } from "./signing";
import { effectiveStatus, type SessionRecord } from "./store";

/** What serializing needs besides the record: the time, and how to sign links. */
export interface SerializeContext {
  nowMs: number;
  publicBaseUrl: string;
  signingSecret: string;
}

/**
 * The signed link's `exp`: the session's `expires_at` as issued, in unix
 * seconds. It does not follow later expiry changes, so the link stays the same.
 */
export function linkExpSeconds(record: SessionRecord): number {
  return record.link_exp;
}

/** A stored session as the API returns it; the signed URL is built now, from the current base URL. */
export function toSession(record: SessionRecord, ctx: SerializeContext): Session {
  return {
    object: "intake_session",
    session_id: record.session_id,
    case_id: record.session_id,
    signed_url: buildSignedUrl(ctx.publicBaseUrl, ctx.signingSecret, record.session_id, linkExpSeconds(record)),
    status: effectiveStatus(record, ctx.nowMs),
    case_type_id: record.case_type_id,
    idempotency_key: record.idempotency_key,
    external_case_id: record.external_case_id,
    external_applicant_id: record.external_applicant_id,
    return_url: record.return_url,
    locale: record.locale,
    trace_id: record.trace_id,
    expires_at: formatTimestamp(record.expires_at),
    created_at: formatTimestamp(record.created_at),
    revoked_at: record.revoked_at === null ? null : formatTimestamp(record.revoked_at),
  };
}

/** The case behind a session: awaiting the applicant while open, submitted once completed, closed otherwise. */
export function toCase(record: SessionRecord, nowMs: number): Case {
  const sessionStatus = effectiveStatus(record, nowMs);
  const status: CaseStatus =
    sessionStatus === "open" ? "awaiting_applicant" : sessionStatus === "completed" ? "submitted" : "closed";
  return {
    object: "case",
    case_id: record.session_id,
    session_id: record.session_id,
    case_type_id: record.case_type_id,
    external_case_id: record.external_case_id,
    external_applicant_id: record.external_applicant_id,
    status,
    session_status: sessionStatus,
    created_at: formatTimestamp(record.created_at),
  };
}
