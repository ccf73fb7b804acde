/**
 * @module
 * `@klarefi/pulumi/policy`: the intake-link policy pack. The product's
 * guidance (treat links as scoped applicant access; expire them when the case
 * no longer needs input) as rules the Pulumi engine enforces on every stack,
 * in any language, before any API call:
 *
 *   pulumi preview --policy-pack node_modules/@klarefi/pulumi/policy
 *
 * The pack's folder (`policy/`: PulumiPolicy.yaml, package.json, index.js)
 * ships inside the package, so it always reads the stored form of the very
 * version of the package the program uses. Its entry calls
 * {@link servePolicyPack}. docs/policy.md describes each policy.
 */
import { PolicyPack, type ReportViolation, type ResourceValidationPolicy, type StackValidationPolicy } from "@pulumi/policy";
import { CONFIG_SCHEMAS, ExpirySettings, PerLinkCampaignSettings, ReturnUrlSettings, settingsOf } from "./config";
import { CAMPAIGN_COMPONENT_TYPE, CAMPAIGN_LINKS_TYPES, linkResourceOf, SESSION_TYPES, type LinkResource } from "./links";
import { expiryViolations, perLinkCampaignViolations, reissueViolations, returnUrlViolations, type Violation } from "./rules";
import { plainOf } from "./values";

/** The pack's name, as `--policy-pack-config` files and Pulumi Cloud policy groups name it. */
export const POLICY_PACK_NAME = "klarefi-intake-links";

/** Policy names: the keys of a `--policy-pack-config` file. */
export const POLICY_NAMES = {
  expiry: "intake-link-max-expiry",
  returnUrl: "intake-link-return-url",
  reissue: "intake-link-reissue-left-on",
  perLinkCampaign: "intake-campaign-per-link-size",
} as const;

/** The link resources this pack reads: both providers' tokens. */
const LINK_TYPES = [...SESSION_TYPES, ...CAMPAIGN_LINKS_TYPES];

/** A resource policy over this package's link resources; other resources are not applicable. */
function linkPolicy(
  spec: Omit<ResourceValidationPolicy, "validateResource">,
  check: (link: LinkResource, config: unknown) => Violation[],
): ResourceValidationPolicy {
  return {
    ...spec,
    validateResource: (args, reportViolation: ReportViolation) => {
      if (!LINK_TYPES.includes(args.type)) return;
      const link = linkResourceOf(args.type, args.name, plainOf(args.props));
      if (link === undefined) return;
      for (const violation of check(link, args.getConfig())) reportViolation(violation.message, args.urn);
    },
  };
}

/** The policies of the pack, in the order the engine runs them. `now` is the clock expiry is judged by. */
export function intakeLinkPolicies(now: () => number = Date.now): { resources: ResourceValidationPolicy[]; stack: StackValidationPolicy[] } {
  const expiry = linkPolicy(
    {
      name: POLICY_NAMES.expiry,
      description:
        "A link expires at most maxDays ahead (default 90). A link without expiresAt is judged by the API's default of 30 days. " +
        "Links are scoped applicant access: expire them when the case no longer needs input.",
      enforcementLevel: "mandatory",
      configSchema: CONFIG_SCHEMAS.expiry,
    },
    (link, config) => expiryViolations(link, settingsOf(ExpirySettings, POLICY_NAMES.expiry, config).maxDays, now()),
  );
  const returnUrl = linkPolicy(
    {
      name: POLICY_NAMES.returnUrl,
      description: "Every return URL (a session's, a campaign's default, each row's own) is https, on the allowedHosts list (empty: any host).",
      enforcementLevel: "mandatory",
      configSchema: CONFIG_SCHEMAS.returnUrl,
    },
    (link, config) => returnUrlViolations(link, settingsOf(ReturnUrlSettings, POLICY_NAMES.returnUrl, config).allowedHosts),
  );
  const reissue = linkPolicy(
    {
      name: POLICY_NAMES.reissue,
      description:
        'reissue: "allow" left on a link or campaign: any later change to its case type, external ids, locale, return URL or trace id ' +
        "revokes the links applicants hold. Meant for one deliberate reissue, then removed.",
      enforcementLevel: "advisory",
    },
    (link) => reissueViolations(link),
  );
  const perLinkCampaign: StackValidationPolicy = {
    name: POLICY_NAMES.perLinkCampaign,
    description:
      "An IntakeCampaign in per-link mode with more than maxRows links (default 500): bulk mode keeps them in one resource at the API's speed. " +
      "A stack policy (the component registers no inputs), run after the resources: advisory.",
    enforcementLevel: "advisory",
    configSchema: CONFIG_SCHEMAS.perLinkCampaign,
    validateStack: (args, reportViolation) => {
      const { maxRows } = settingsOf(PerLinkCampaignSettings, POLICY_NAMES.perLinkCampaign, args.getConfig());
      const resources = args.resources.map((r) => ({
        type: r.type,
        name: r.name,
        parent: r.parent ? { type: r.parent.type, name: r.parent.name, urn: r.parent.urn } : undefined,
      }));
      for (const violation of perLinkCampaignViolations(resources, SESSION_TYPES, CAMPAIGN_COMPONENT_TYPE, maxRows)) reportViolation(violation.message);
    },
  };
  return { resources: [expiry, returnUrl, reissue], stack: [perLinkCampaign] };
}

/**
 * Starts the pack: serves the policies to the engine (the port goes to
 * stdout, as the engine's plugin protocol wants). Called once, by the pack's
 * entry `policy/index.js`; a process serves one pack.
 */
export function servePolicyPack(): PolicyPack {
  const { resources, stack } = intakeLinkPolicies();
  return new PolicyPack(POLICY_PACK_NAME, {
    description: "Klarefi intake links as scoped applicant access: bounded expiry, https return URLs on allowed hosts, no reissue left on.",
    policies: [...resources, ...stack],
  });
}
