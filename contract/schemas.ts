/**
 * @module
 * The Klarefi v1 wire format, as this project assumes it (docs/klarefi-api.md).
 *
 * Field names are the API's own (snake_case), verbatim from the product
 * documentation. The local server validates requests with these schemas and the
 * client parses every response with them, so both sides of the contract live in
 * one place; the rules of each field come from fields.ts.
 */
import { z } from "zod";
import { fields } from "./fields";
import { wireShape } from "./request-fields";

export {
  isAllowedReturnUrl,
  MAX_EXPIRY_DAYS,
  MAX_ID_LENGTH,
} from "./fields";
/** Lifetime of a link when the request gives no `expires_at`. */
export const DEFAULT_EXPIRY_DAYS = 30;

export const SessionStatus = z.enum(["open", "revoked", "expired", "completed"]);
export type SessionStatus = z.infer<typeof SessionStatus>;

/** Case type identifiers as the dashboard shows them: `motor_claim`. */
export const CaseTypeId = fields.caseTypeId("case_type_id");
/** BCP 47 language tag: `nl`, `nl-BE`, `pt-BR`, `zh-Hant-TW`. */
export const Locale = fields.locale("locale");
/** Where the hosted page sends the applicant when done: https, or http to localhost. */
export const ReturnUrl = fields.returnUrl("return_url");
/** 1 to 128 printable ASCII characters without spaces. */
export const TraceId = fields.traceId("trace_id");
/** An RFC 3339 timestamp with a zone, as `expires_at`: `2027-03-31T00:00:00Z`. */
export const Timestamp = fields.timestamp("expires_at");

/**
 * Body of `POST /api/v1/sessions`: the request fields (request-fields.ts)
 * and the idempotency key. Unknown fields are refused.
 */
const { case_type_id, ...requestFields } = wireShape();
export const CreateSessionRequest = z.strictObject({
  case_type_id,
  idempotency_key: fields.idempotencyKey("idempotency_key"),
  ...requestFields,
});
export type CreateSessionRequest = z.input<typeof CreateSessionRequest>;

/**
 * Body of `PATCH /api/v1/sessions/{id}`: moves an open session's expiry
 * (extend a campaign's deadline without reissuing its links). The session
 * keeps its id and its signed URL. An assumption of this project, to confirm
 * with Klarefi: the public documentation shows only the create call.
 */
export const UpdateSessionRequest = z.strictObject({
  expires_at: Timestamp,
});
export type UpdateSessionRequest = z.input<typeof UpdateSessionRequest>;

/** An intake session as every endpoint returns it. */
export const Session = z.object({
  object: z.literal("intake_session"),
  session_id: z.string().min(1),
  /** Equal to `session_id` in v1 hosted sessions. */
  case_id: z.string().min(1),
  signed_url: z.url(),
  status: SessionStatus,
  case_type_id: z.string(),
  idempotency_key: z.string(),
  external_case_id: z.string(),
  external_applicant_id: z.string(),
  return_url: z.string().nullable(),
  locale: z.string().nullable(),
  trace_id: z.string().nullable(),
  expires_at: z.string(),
  created_at: z.string(),
  revoked_at: z.string().nullable(),
});
export type Session = z.infer<typeof Session>;

export const CaseStatus = z.enum(["awaiting_applicant", "submitted", "closed"]);
export type CaseStatus = z.infer<typeof CaseStatus>;

/** The case read `GET /api/v1/cases/{id}`: the case behind a hosted session. */
export const Case = z.object({
  object: z.literal("case"),
  case_id: z.string().min(1),
  session_id: z.string().min(1),
  case_type_id: z.string(),
  external_case_id: z.string(),
  external_applicant_id: z.string(),
  status: CaseStatus,
  session_status: SessionStatus,
  created_at: z.string(),
});
export type Case = z.infer<typeof Case>;

export const ErrorType = z.enum([
  "invalid_request_error",
  "authentication_error",
  "not_found_error",
  "idempotency_error",
  "rate_limit_error",
  "api_error",
]);
export type ErrorType = z.infer<typeof ErrorType>;

/** Every non-2xx answer of the API. */
export const ErrorBody = z.object({
  error: z.object({
    type: ErrorType,
    code: z.string(),
    message: z.string(),
    param: z.string().optional(),
    request_id: z.string(),
    trace_id: z.string().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** Response headers the API sets. */
export const Headers = {
  requestId: "request-id",
  traceId: "klarefi-trace-id",
  idempotentReplayed: "idempotent-replayed",
  retryAfter: "retry-after",
  /** Assumed (draft-ietf-httpapi-ratelimit-headers-11): the quota policy, e.g. `"default";q=100;w=1`. */
  rateLimitPolicy: "ratelimit-policy",
  /** Assumed (draft-ietf-httpapi-ratelimit-headers-11): the quota left, e.g. `"default";r=42;t=1`. */
  rateLimit: "ratelimit",
} as const;
