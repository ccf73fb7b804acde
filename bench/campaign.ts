/**
 * @module
 * One campaign mode through the real engine: `up` of N links, a no-change
 * `preview` (which must be exactly that, with no API call), `refresh`, an
 * edit of one row that reissues its link, and `destroy`; with the API calls
 * of each step and the stored checkpoint's size per link.
 *
 * The program never changes its inputs between runs on its own: the
 * campaign's `expiresAt` is fixed once per bench run, and the only change
 * is the one the edit step makes on purpose.
 */
import { IntakeCampaign } from "../provider/campaign";
import { API_ROUTES, type RunningKlarefiServer } from "../server";
import { type ApiCalls, apiCalls, callsSince, callsTo, countingCalls, describeCalls, totalCalls } from "./api-calls";
import { cpuResult, type ModeResult, round } from "./report";
import { peakRss } from "./rss";
import { type BenchBackend, BenchStack, type EngineSettings, assertNoChange, engineCpu, stateByType, type Timed } from "./stack";

/** The campaign modes of `IntakeCampaign`. */
export const MODES = ["per-link", "bulk"] as const;
export type Mode = (typeof MODES)[number];

/** The campaign every mode provisions: N rows, one case type, fixed defaults. */
export interface BenchCampaign {
  links: number;
  caseTypeId: string;
  locale: string;
  /** Fixed once per bench run, so that runs see the same inputs. */
  expiresAt: string;
  /** Bulk mode's `shards`. */
  shards: number;
}

/** Row `i` of the campaign; the edit step moves row 0 to another applicant. */
export function benchRow(i: number, edited = false): { externalCaseId: string; externalApplicantId: string } {
  return { externalCaseId: `case_${i}`, externalApplicantId: edited && i === 0 ? `applicant_${i}_moved` : `applicant_${i}` };
}

/** Measures one mode from `up` to `destroy` on its own stack. */
export async function measureMode(options: {
  mode: Mode;
  campaign: BenchCampaign;
  server: RunningKlarefiServer;
  apiKey: string;
  backend: BenchBackend;
  settings: EngineSettings;
  log: (line: string) => void;
  /** SIGINT to `pulumi` once this fraction of the rows was created, then a re-run (the `up` figures are the re-run's). */
  interruptAt?: number | undefined;
}): Promise<ModeResult> {
  const { mode, campaign, server, log } = options;
  const n = campaign.links;
  let edited = false;
  const program = async () => {
    const rows = Array.from({ length: n }, (_, i) => benchRow(i, edited));
    new IntakeCampaign("bench", {
      caseTypeId: campaign.caseTypeId,
      rows,
      mode,
      ...(mode === "bulk" ? { shards: campaign.shards } : {}),
      defaults: { locale: campaign.locale, expiresAt: campaign.expiresAt },
      // Set from the first run, so that the edit may reissue one row's link; it changes nothing else.
      reissue: "allow",
    });
  };
  const stack = await BenchStack.create({
    backend: options.backend,
    settings: options.settings,
    projectName: "klarefi-bench",
    stackName: mode,
    program,
    config: { "klarefi:apiKey": { value: options.apiKey, secret: true }, "klarefi:baseUrl": { value: server.url } },
  });
  const line = (step: string, timed: Timed, calls: ApiCalls) =>
    log(`${mode.padEnd(9)} ${step.padEnd(9)} ${timed.seconds.toFixed(2)} s${engineCpu(timed)}; API calls: ${describeCalls(calls)}`);
  try {
    let interrupt: ModeResult["interrupt"];
    let createdBefore = 0;
    if (options.interruptAt !== undefined) {
      const fraction = options.interruptAt;
      const start = apiCalls(server);
      const made = () => callsTo(callsSince(start, apiCalls(server)), API_ROUTES.createSession);
      const { stopSeconds } = await stack.interruptedUp(`${mode}: up interrupted at ${fraction}`, () => made() >= fraction * n);
      createdBefore = made();
      interrupt = { at_fraction: fraction, stop_s: round(stopSeconds), created_before_stop: createdBefore, rerun_requests: 0 };
      log(`${mode.padEnd(9)} interrupt SIGINT at ${fraction}: stopped in ${stopSeconds.toFixed(2)} s with ${createdBefore} of ${n} links made`);
    }
    const rss = peakRss(`PULUMI_HOME=${stack.pulumiHome}`);
    const [up, upCalls] = await countingCalls(server, () => stack.up(`${mode}: up of ${n} links`));
    const peak = rss.stop();
    line(interrupt ? "re-run up" : "up", up, upCalls);
    const creates = callsTo(upCalls, API_ROUTES.createSession);
    if (interrupt) interrupt.rerun_requests = totalCalls(upCalls);
    else if (creates !== n) throw new Error(`${mode}: up of ${n} links made ${creates} creates (${describeCalls(upCalls)}); the bench expects exactly one per link.`);
    const rejected = Object.entries(upCalls).reduce((sum, [key, count]) => (key.endsWith(" 429") ? sum + count : sum), 0);
    const stored = await stack.checkpoint();

    const [preview, previewCalls] = await countingCalls(server, () => stack.preview(`${mode}: no-change preview`));
    assertNoChange(`${mode}: no-change preview`, preview.changes);
    line("preview", preview, previewCalls);

    const [refresh, refreshCalls] = await countingCalls(server, () => stack.refresh(`${mode}: refresh`));
    line("refresh", refresh, refreshCalls);

    edited = true;
    const [edit, editCalls] = await countingCalls(server, () => stack.up(`${mode}: up after editing one row`));
    line("edit", edit, editCalls);
    const editCreates = callsTo(editCalls, API_ROUTES.createSession);
    const editRevokes = callsTo(editCalls, API_ROUTES.revokeSession);
    if (editCreates !== 1 || editRevokes !== 1) {
      log(`${mode}: note: editing one row's applicant made ${editCreates} creates and ${editRevokes} revokes; a reissue is 1 and 1.`);
    }

    const [destroy, destroyCalls] = await countingCalls(server, () => stack.destroy(`${mode}: destroy`));
    line("destroy", destroy, destroyCalls);

    return {
      up_s: round(up.seconds),
      preview_s: round(preview.seconds),
      preview_api_calls: totalCalls(previewCalls),
      refresh_s: round(refresh.seconds),
      destroy_s: round(destroy.seconds),
      edit_one_row_s: round(edit.seconds),
      edit_api_calls: totalCalls(editCalls),
      state_bytes_per_link: Math.round(stored.bytes / n),
      api_calls: { up: upCalls, preview: previewCalls, refresh: refreshCalls, edit: editCalls, destroy: destroyCalls },
      cpu_s: {
        up: cpuResult(up.cpu),
        preview: cpuResult(preview.cpu),
        refresh: cpuResult(refresh.cpu),
        edit: cpuResult(edit.cpu),
        destroy: cpuResult(destroy.cpu),
      },
      edit_changes: Object.fromEntries(Object.entries(edit.changes).map(([op, k]) => [op, k ?? 0])),
      state_by_type: stateByType(stored.text),
      peak_rss_mb: peak,
      requests_total: totalCalls(upCalls),
      requests_429: rejected,
      ...(interrupt === undefined ? {} : { interrupt }),
    };
  } finally {
    await stack.remove();
  }
}
