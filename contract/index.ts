/**
 * @module
 * The Klarefi contract in one import: the wire schemas and headers
 * (schemas.ts), the field rules (fields.ts), the table of request fields
 * (request-fields.ts) and the wording of validation problems
 * (messages.ts). The client, the server, the provider and the CLI all build
 * on it.
 */
export * from "./schemas";
export {
  API_KEY_PATTERN,
  canonicalLocale,
  CASE_TYPE_ID_PATTERN,
  expiryProblem,
  fields,
  LOCAL_TEST_API_KEY,
  LOCALE_PATTERN,
  MAX_CASE_TYPE_ID_LENGTH,
  MAX_LABEL_LENGTH,
  MAX_RETURN_URL_LENGTH,
  MAX_TRACE_ID_LENGTH,
  SESSION_ID_PATTERN,
  TRACE_ID_PATTERN,
} from "./fields";
export { REQUEST_FIELDS, type RequestField, type RequestName } from "./request-fields";
export { fieldProblems, firstProblem, issueMessage, type FieldProblem } from "./messages";
