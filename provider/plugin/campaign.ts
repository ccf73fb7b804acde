/**
 * @module
 * The plugin's `IntakeCampaignLinks`: the bulk campaign served by the
 * implementation the dynamic provider runs (`CampaignLinksProviderImpl`),
 * with the row and setting rules `IntakeCampaign` applies in TypeScript
 * programs (a YAML or Python program has no component to apply them). Loaded
 * by the plugin on first use: these modules load `@pulumi/pulumi`.
 */
import path from "node:path";
import { DEFAULT_FIELD_LIST, fromRowNames, toRowNames } from "../../contract/request-fields";
import { CampaignRowsError, campaignSettingsProblems, parseCampaignCsv, readCampaignCsvFile, type SourcedRow, validateCampaignRows } from "../campaign/rows";
import { type CampaignLinksProviderImpl, sharedCampaignLinksImpl } from "../campaign/links/provider";
import type { CheckFailure } from "../intake-session/policy";
import { keepingSecrets, type ResourceHandler, SECRET_OUTPUTS } from "./resources";
import { CAMPAIGN_LINKS_TOKEN } from "./schema";
import { hasUnknowns, keyScopeFromUrn, wireAsset, withSecrets } from "./values";

type Props = Record<string, unknown>;

/**
 * The problems of a campaign's rows and settings with the rules
 * `IntakeCampaign` applies in a TypeScript program (contract/fields.ts), one
 * failure per problem: a setting by its property, a row by its external
 * case id. A new `expiresAt` must lie ahead; an unchanged one may have passed.
 */
export function campaignInputProblems(olds: Props, news: Props): CheckFailure[] {
  const failures: CheckFailure[] = [];
  const text = (value: unknown) => (typeof value === "string" ? value : undefined);
  const defaults = Object.fromEntries(DEFAULT_FIELD_LIST.map((field) => [field.name, text(news[field.name])]));
  const settings = campaignSettingsProblems(
    {
      caseTypeId: text(news.caseTypeId) ?? "",
      rotation: text(news.rotation),
      defaults: { ...defaults, expiresAt: news.expiresAt === olds.expiresAt ? undefined : text(news.expiresAt) },
    },
    Date.now(),
    "", // the defaults are top-level properties here
  );
  for (const problem of settings) failures.push({ property: problem.column ?? "", reason: problem.message });
  const rows = typeof news.rows === "object" && news.rows !== null ? (news.rows as Record<string, unknown>) : {};
  const caseIds = Object.keys(rows);
  try {
    validateCampaignRows(
      caseIds.map((caseId, index) => {
        const row = (typeof rows[caseId] === "object" && rows[caseId] !== null ? rows[caseId] : {}) as Props;
        return { ...fromRowNames(row), externalCaseId: caseId, line: index + 1 };
      }),
    );
  } catch (error) {
    if (!(error instanceof CampaignRowsError)) throw error;
    for (const problem of error.details) {
      // Each row's "line" is its position among the rows.
      const caseId = problem.line === undefined ? undefined : caseIds[problem.line - 1];
      failures.push(caseId === undefined ? { property: "rows", reason: problem.message } : { property: `rows.${caseId}`, reason: `${caseId}: ${problem.message}` });
    }
  }
  return failures;
}

/**
 * The rows of a campaign given as a CSV asset (`csvFile`), in the form of
 * the `rows` property: external case id → `{ applicant, locale?, returnUrl? }`.
 * A provider receives a file asset as its path and hash, not its contents,
 * so the file is read here, relative to `projectDir` (the engine starts the
 * plugin in the project folder), with the parser, the checks and the words
 * of `IntakeCampaign`'s `csvFile`. Every problem is one failure naming the
 * file and the line (`applicants.csv: line 3: …`), without a property, so the
 * engine shows the reason alone. A string asset's text is read as the CSV itself.
 */
export function rowsFromCsvAsset(value: unknown, projectDir: string = process.cwd()): { rows: Record<string, Props> } | { failures: CheckFailure[] } {
  const asset = wireAsset(value);
  // No property: the engine would print the asset's wire form (signature, hash, path) beside the reason.
  const refuse = (reason: string) => ({ failures: [{ property: "", reason }] });
  if (asset === undefined || asset === "archive" || asset.uri !== undefined || (asset.path === undefined && asset.text === undefined)) {
    return refuse("csvFile must be a file asset of the campaign's CSV, such as `fn::fileAsset: applicants.csv` in YAML or `pulumi.FileAsset(\"applicants.csv\")` in Python");
  }
  const source = asset.path ?? "csvFile";
  let read: SourcedRow[];
  try {
    read = asset.path !== undefined ? readCampaignCsvFile(path.resolve(projectDir, asset.path), asset.path) : parseCampaignCsv(asset.text ?? "", source);
  } catch (error) {
    if (!(error instanceof CampaignRowsError)) throw error;
    return { failures: error.problems.map((problem) => ({ property: "", reason: `${source}: ${problem}` })) };
  }
  const rows: Record<string, Props> = {};
  for (const row of read) rows[row.externalCaseId] = toRowNames(row);
  return { rows };
}

/** `klarefi:index:IntakeCampaignLinks`, served by the bulk campaign's implementation. */
export function campaignLinksHandler(impl: CampaignLinksProviderImpl = sharedCampaignLinksImpl()): ResourceHandler {
  const secrets = SECRET_OUTPUTS[CAMPAIGN_LINKS_TOKEN] ?? [];
  return {
    cancel: () => impl.cancel(),
    async check(urn, olds, news) {
      let inputs: Props = { ...news, keyScope: keyScopeFromUrn(urn) };
      if (hasUnknowns(news)) return { inputs, failures: [] };
      // A CSV asset becomes the rows, read now: state keeps them, so the next diff compares row by row.
      const csvFile = news.csvFile;
      if (csvFile !== undefined && csvFile !== null) {
        if (news.rows !== undefined && news.rows !== null) return { inputs, failures: [{ property: "", reason: "give exactly one of rows or csvFile" }] };
        const read = rowsFromCsvAsset(csvFile);
        if ("failures" in read) return { inputs, failures: read.failures };
        inputs = { ...inputs, rows: read.rows };
      } else if (news.rows === undefined || news.rows === null) {
        return { inputs, failures: [{ property: "", reason: "give exactly one of rows or csvFile" }] };
      }
      const result = await impl.check(olds, inputs);
      const checked = csvFile === undefined || csvFile === null ? (result.inputs as Props) : { ...(result.inputs as Props), csvFile };
      if (result.failures.length > 0) return { inputs: checked, failures: result.failures };
      return { inputs: checked, failures: campaignInputProblems(olds, inputs) };
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
