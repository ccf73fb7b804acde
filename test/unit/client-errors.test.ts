import { describe, expect, it } from "vitest";
import {
  errorFromResponse,
  KlarefiApiError,
  KlarefiAuthenticationError,
  KlarefiConflictError,
  KlarefiError,
  KlarefiNotFoundError,
  KlarefiRateLimitError,
  KlarefiValidationError,
  redactSecrets,
} from "../../client/errors";

const body = (type: string, code: string, message: string, extra: Record<string, string> = {}) => ({
  error: { type, code, message, request_id: "req_9", ...extra },
});

describe("errorFromResponse", () => {
  const table: Array<[number, unknown, typeof KlarefiError]> = [
    [400, body("invalid_request_error", "invalid_json", "body is not JSON"), KlarefiValidationError],
    [422, body("invalid_request_error", "unknown_case_type", 'unknown case_type_id "motor_clam"'), KlarefiValidationError],
    [401, body("authentication_error", "invalid_api_key", "invalid API key"), KlarefiAuthenticationError],
    [403, body("authentication_error", "forbidden", "forbidden"), KlarefiAuthenticationError],
    [404, body("not_found_error", "resource_missing", "no such intake session"), KlarefiNotFoundError],
    [409, body("idempotency_error", "idempotency_key_in_use", "in use"), KlarefiConflictError],
    [422, body("idempotency_error", "idempotency_key_reused", "reused"), KlarefiConflictError],
    [429, body("rate_limit_error", "rate_limited", "slow down"), KlarefiRateLimitError],
    [500, body("api_error", "internal_error", "boom"), KlarefiApiError],
    [503, body("api_error", "service_unavailable", "try later"), KlarefiApiError],
    [403, body("api_error", "forbidden", "forbidden"), KlarefiApiError],
    [502, "<html>bad gateway</html>", KlarefiApiError],
    [418, undefined, KlarefiApiError],
  ];
  it.each(table)("maps status %i with body %j to its class", (status, errorBody, cls) => {
    const error = errorFromResponse({ operation: "Creating intake session", status, body: errorBody });
    expect(error).toBeInstanceOf(cls);
    expect(error).toBeInstanceOf(KlarefiError);
    expect(error.status).toBe(status);
    expect(error.operation).toBe("Creating intake session");
  });

  it("writes one sentence with operation, status, API message and request id", () => {
    const error = errorFromResponse({
      operation: "Creating intake session",
      status: 422,
      body: body("invalid_request_error", "unknown_case_type", 'unknown case_type_id "motor_clam"', { param: "case_type_id" }),
    });
    expect(error.message).toBe('Creating intake session failed: 422 unknown case_type_id "motor_clam" (request req_9)');
    expect(error).toMatchObject({ type: "invalid_request_error", code: "unknown_case_type", param: "case_type_id", requestId: "req_9" });
  });

  it("takes the request and trace ids from headers when the body is not a Klarefi error", () => {
    const error = errorFromResponse({
      operation: "Revoking intake session ses_123",
      status: 403,
      body: "Forbidden",
      headers: { "request-id": "req_9", "klarefi-trace-id": "trace_1" },
    });
    expect(error.message).toBe("Revoking intake session ses_123 failed: 403 forbidden (the answer carried no Klarefi error body) (request req_9)");
    expect(error).toMatchObject({ requestId: "req_9", traceId: "trace_1" });
  });

  it("gives a rate-limit error the wait the API asked for", () => {
    const error = errorFromResponse({
      operation: "Retrieving case ses_1",
      status: 429,
      body: body("rate_limit_error", "rate_limited", "slow down"),
      headers: { "retry-after": "3" },
    });
    expect(error).toBeInstanceOf(KlarefiRateLimitError);
    expect((error as KlarefiRateLimitError).retryAfterMs).toBe(3000);
  });

  it("strips keys and signed-URL signatures that an API message might echo", () => {
    const error = errorFromResponse({
      operation: "Creating intake session",
      status: 400,
      body: body("invalid_request_error", "x", "key sk_test_abcdefgh12345 and https://h.example/i/ses_1?exp=1&sig=abcdef"),
    });
    expect(error.message).not.toContain("sk_test_abcdefgh12345");
    expect(error.message).not.toContain("sig=abcdef");
    expect(error.message).toContain("https://h.example/i/ses_1?[redacted]");
  });
});

// A live-format key, assembled here so that no live-looking key sits in the repository.
const LIVE_FORMAT_KEY = ["sk", "live", "abcdefgh12345678"].join("_");

describe("redactSecrets", () => {
  it.each([
    [`Bearer ${LIVE_FORMAT_KEY}`, "Bearer sk_live_[redacted]"],
    ["Bearer sk_test_abcdefgh12345678", "Bearer sk_test_[redacted]"],
    ["see http://127.0.0.1:4010/i/ses_1?exp=2&sig=ff.", "see http://127.0.0.1:4010/i/ses_1?[redacted]"],
    ["plain text stays", "plain text stays"],
  ])("turns %j into %j", (input, output) => {
    expect(redactSecrets(input)).toBe(output);
  });
});
