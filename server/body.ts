/**
 * @module
 * The request body cap of the local server: a body over MAX_BODY_BYTES is
 * refused with 413 `body_too_large` before it is held in memory. A declared
 * `Content-Length` over the cap is refused without reading a byte; a body
 * without one (chunked) is read chunk by chunk and refused as soon as the
 * running total passes the cap. Either way the answer asks to close the
 * connection, so the rest of the body is not read either.
 */
import { ApiError } from "./errors";

/** Largest request body the server reads: 1 MiB. Bodies of the API are a few hundred bytes. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** 413 `body_too_large`; the message names the cap and, when declared, the body's size. */
export function bodyTooLarge(declaredBytes?: number): ApiError {
  const size = declaredBytes === undefined ? "" : ` (Content-Length ${declaredBytes})`;
  return new ApiError(
    413,
    "invalid_request_error",
    "body_too_large",
    `The request body is larger than ${MAX_BODY_BYTES} bytes${size}; send a body of at most ${MAX_BODY_BYTES} bytes.`,
  );
}

/**
 * The declared `Content-Length`, checked against the cap: throws 413 when it
 * is over, answers the length (undefined when absent or unreadable).
 */
export function checkDeclaredLength(header: string | undefined, maxBytes: number = MAX_BODY_BYTES): number | undefined {
  if (header === undefined || !/^\s*\d+\s*$/.test(header)) return undefined;
  const declared = Number(header);
  if (declared > maxBytes) throw bodyTooLarge(declared);
  return declared;
}

/**
 * Reads the request body as UTF-8 text, never more than `maxBytes`: a larger
 * declared length is refused before reading, a larger streamed body as soon
 * as it passes the cap (the stream is cancelled). 400 `invalid_json` when the
 * body cannot be read.
 */
/** The part of a request context the body reader uses (context.ts passes its own `Ctx`). */
interface BodyRequest {
  req: { header(name: string): string | undefined; raw: Request };
}

export async function readBodyText(c: BodyRequest, maxBytes: number = MAX_BODY_BYTES): Promise<string> {
  checkDeclaredLength(c.req.header("content-length"), maxBytes);
  const stream = c.req.raw.body;
  if (stream === null) return "";
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw bodyTooLarge();
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError(400, "invalid_request_error", "invalid_json", "The request body could not be read.");
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks).toString("utf8");
}
