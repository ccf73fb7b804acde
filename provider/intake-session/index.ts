/**
 * @module
 * `@klarefi/pulumi/intake-session`: one applicant's intake link as a Pulumi
 * resource. Every state file written by this package holds
 * `require("@klarefi/pulumi/intake-session").intakeSessionProvider`: keep that
 * export here.
 */
export * from "./inputs";
export * from "./policy";
export * from "./provider";
export * from "./resource";
export * from "./stored";
// The provider's settings moved to provider/settings.ts; the names this entry point exported stay.
export {
  DEFAULT_MAX_CONCURRENT_REQUESTS,
  DEFAULT_PROVIDER_MAX_RETRIES,
  PROVIDER_MISSING_KEY,
  type ProviderSettings,
  settingsFromConfig,
} from "../settings";
