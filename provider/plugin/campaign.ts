/**
 * @module
 * The plugin's `IntakeCampaignLinks`: the bulk campaign served by the
 * implementation the dynamic provider runs (`CampaignLinksProviderImpl`),
 * with the row and setting rules `IntakeCampaign` applies in TypeScript
 * programs (a YAML or Python program has no component to apply them). Loaded
 * by the plugin on first use: these modules load `@pulumi/pulumi`.
 */
import { CampaignRowsError, campaignSettingsProblems, validateCampaignRows } from "../campaign/rows";
import { type CampaignLinksProviderImpl, sharedCampaignLinksImpl } from "../campaign/links/provider";
import type { CheckFailure } from "../intake-session/policy";
import { keepingSecrets, type ResourceHandler, SECRET_OUTPUTS } from "./resources";
import { CAMPAIGN_LINKS_TOKEN } from "./schema";
import { hasUnknowns, keyScopeFromUrn, withSecrets } from "./values";

type Props = Record<string, unknown>;

/**
 * The problems of a campaign's rows and settings with the rules
 * `IntakeCampaign` applies in a TypeScript program (contract/fields.ts), one
 * failure per problem, named by the row's external case id. A new
 * `expiresAt` must lie ahead; an unchanged one may have passed.
 */
export function campaignInputProblems(olds: Props, news: Props): CheckFailure[] {
  const failures: CheckFailure[] = [];
  const text = (value: unknown) => (typeof value === "string" ? value : undefined);
  const settings = campaignSettingsProblems({
    caseTypeId: text(news.caseTypeId) ?? "",
    rotation: text(news.rotation),
    defaults: {
      locale: text(news.locale),
      returnUrl: text(news.returnUrl),
      traceId: text(news.traceId),
      expiresAt: news.expiresAt === olds.expiresAt ? undefined : text(news.expiresAt),
    },
  });
  for (const problem of settings) {
    const field = /^(?:defaults\.)?(\w+)/.exec(problem)?.[1] ?? "";
    failures.push({ property: field, reason: problem.replace(/^defaults\./, "") });
  }
  const rows = typeof news.rows === "object" && news.rows !== null ? (news.rows as Record<string, unknown>) : {};
  const caseIds = Object.keys(rows);
  try {
    validateCampaignRows(
      caseIds.map((caseId, index) => {
        const row = (typeof rows[caseId] === "object" && rows[caseId] !== null ? rows[caseId] : {}) as Props;
        return { externalCaseId: caseId, externalApplicantId: row.applicant, locale: row.locale, returnUrl: row.returnUrl, line: index + 1 };
      }),
    );
  } catch (error) {
    if (!(error instanceof CampaignRowsError)) throw error;
    for (const problem of error.problems) {
      const match = /^line (\d+): (.*)$/s.exec(problem);
      const caseId = match ? caseIds[Number(match[1]) - 1] : undefined;
      failures.push(caseId === undefined ? { property: "rows", reason: problem } : { property: `rows.${caseId}`, reason: `${caseId}: ${match?.[2] ?? problem}` });
    }
  }
  return failures;
}

/** `klarefi:index:IntakeCampaignLinks`, served by the bulk campaign's implementation. */
export function campaignLinksHandler(impl: CampaignLinksProviderImpl = sharedCampaignLinksImpl()): ResourceHandler {
  const secrets = SECRET_OUTPUTS[CAMPAIGN_LINKS_TOKEN] ?? [];
  return {
    async check(urn, olds, news) {
      const inputs = { ...news, keyScope: keyScopeFromUrn(urn) };
      if (hasUnknowns(news)) return { inputs, failures: [] };
      const result = await impl.check(olds, inputs);
      if (result.failures.length > 0) return { inputs: result.inputs as Props, failures: result.failures };
      const problems = campaignInputProblems(olds, inputs);
      return { inputs: result.inputs as Props, failures: problems };
    },
    // Rows not known yet (a preview): some change, which the real run works out.
    diff: async (id, olds, news) => (hasUnknowns(news) ? { changes: true, replaces: [], deleteBeforeReplace: false } : impl.diff(id, olds, news)),
    async create(_urn, inputs) {
      const { id, outs } = await keepingSecrets(secrets, () => impl.create(inputs));
      return { id, outs: withSecrets(outs as unknown as Props, secrets) };
    },
    async read(id, _urn, props) {
      if (typeof props.sessions !== "object" || props.sessions === null) {
        throw new Error(
          `Importing a whole campaign (${id}) is not supported: import its sessions one by one as klarefi:index:IntakeSession.`,
        );
      }
      const read = await impl.read(id, props);
      return { id: read.id, props: withSecrets(read.props, secrets) };
    },
    async update(id, olds, news) {
      const { outs } = await keepingSecrets(secrets, () => impl.update(id, olds, news));
      return { outs: withSecrets(outs as unknown as Props, secrets) };
    },
    delete: (id, props) => impl.delete(id, props),
  };
}
