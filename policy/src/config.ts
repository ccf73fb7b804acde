/**
 * @module
 * The settings of each policy: names, defaults and limits, written once as
 * zod schemas. `--policy-pack-config` (or the organisation's policy group in
 * Pulumi Cloud) sets them; the engine checks them against the JSON schema
 * each policy declares ({@link jsonSchemaOf}), and the pack reads them back
 * through {@link settingsOf}, which fills what is left out.
 */
import { z } from "zod";

/** `intake-link-max-expiry`: how far ahead a link may expire. */
export const ExpirySettings = z.object({
  /** Most days between now and a link's expiry. A link with no expiry is judged by the API's default, 30 days. */
  maxDays: z.number().int().min(1).max(365).default(90),
});
export type ExpirySettings = z.infer<typeof ExpirySettings>;

/** `intake-link-return-url`: where applicants may be sent back. */
export const ReturnUrlSettings = z.object({
  /** Hosts a return URL may point at: `claims.example.com`, or `*.example.com` for its subdomains. Empty: any host. */
  allowedHosts: z.array(z.string().min(1)).default([]),
});
export type ReturnUrlSettings = z.infer<typeof ReturnUrlSettings>;

/** `intake-campaign-per-link-size`: the largest per-link campaign left unreported. */
export const PerLinkCampaignSettings = z.object({
  /** Most links of one per-link campaign before bulk mode is suggested. */
  maxRows: z.number().int().min(1).default(500),
});
export type PerLinkCampaignSettings = z.infer<typeof PerLinkCampaignSettings>;

/** The JSON-schema property type of a zod field (the subset these settings use). */
type JsonSchemaProperty = { type: "integer" | "array"; default: unknown; description: string; minimum?: number; maximum?: number; items?: { type: "string" } };

/**
 * The policy's `configSchema`: what the engine checks `--policy-pack-config`
 * against. Written beside the zod schema it mirrors; a unit test keeps the
 * two in step.
 */
export const CONFIG_SCHEMAS = {
  expiry: {
    properties: {
      maxDays: { type: "integer", minimum: 1, maximum: 365, default: 90, description: "Most days between now and a link's expiry (default 90)." },
    } satisfies Record<keyof ExpirySettings, JsonSchemaProperty>,
  },
  returnUrl: {
    properties: {
      allowedHosts: {
        type: "array",
        items: { type: "string" },
        default: [],
        description: "Hosts a return URL may point at (`claims.example.com`, or `*.example.com` for subdomains); empty allows any https host.",
      },
    } satisfies Record<keyof ReturnUrlSettings, JsonSchemaProperty>,
  },
  perLinkCampaign: {
    properties: {
      maxRows: { type: "integer", minimum: 1, default: 500, description: "Most links of one per-link campaign before bulk mode is suggested (default 500)." },
    } satisfies Record<keyof PerLinkCampaignSettings, JsonSchemaProperty>,
  },
} as const;

/**
 * The settings a policy runs with: its config as the engine passed it, with
 * defaults for what is left out. Config the engine let through but the
 * schema refuses throws, naming the setting.
 */
export function settingsOf<T extends z.ZodType>(schema: T, policy: string, config: unknown): z.infer<T> {
  const parsed = schema.safeParse(config ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "config"}: ${issue.message}`);
  throw new Error(`The config of policy ${policy} is not valid: ${problems.join("; ")}.`);
}
