/**
 * @module
 * The hosted applicant pages of the local server (docs/klarefi-api.md
 * section 6): `GET /i/{id}?exp=&sig=` shows the intake form of an open
 * session, `POST` to the same signed link submits it and completes the
 * session. No API key: the signature is the credential.
 */
import { Hono } from "hono";
import { readBodyText } from "../body";
import { formatTimestamp } from "../clock";
import type { AppEnv, Ctx, KlarefiAppDeps } from "../context";
import { PAGE_HEADERS, type LinkProblem, renderIntakePage, renderLinkProblemPage, renderSubmittedPage } from "../hosted-page";
import { verifyLink } from "../signing";
import { effectiveStatus } from "../store";

/** The `/i` sub-app; mount it with `app.route("/i", hostedRoutes(deps))`. */
export function hostedRoutes(deps: KlarefiAppDeps): Hono<AppEnv> {
  const hosted = new Hono<AppEnv>();

  /**
   * A link opens while its signature is valid and the session is open by its
   * CURRENT `expires_at`. The link's own `exp` is not compared with the clock:
   * it is the expiry the link was issued with, and a session whose expiry was
   * extended keeps its link (while one whose expiry was shortened closes
   * earlier than the link's `exp`).
   */
  const page = async (c: Ctx, submit: boolean) => {
    for (const [name, value] of Object.entries(PAGE_HEADERS)) c.header(name, value);
    const id = c.req.param("id") ?? "";
    const sig = c.req.query("sig");
    const problem = (p: LinkProblem) => {
      const refusal = renderLinkProblemPage(p);
      return c.html(refusal.html, refusal.status);
    };
    const check = verifyLink(deps.signingSecret, id, c.req.query("exp"), sig);
    if (!check.ok) return problem("invalid");
    const record = deps.store.getSession(id);
    if (record === undefined) return problem("invalid");
    const now = deps.clock.now();
    const status = effectiveStatus(record, now);
    if (status === "revoked") return problem("revoked");
    if (status === "completed") return problem("submitted");
    if (status === "expired") return problem("expired");
    if (submit) {
      // The form's fields are not used; the body is read (capped) only to finish the request.
      await readBodyText(c);
      const done = deps.store.completeSession(id, now);
      if (done === undefined || done.state !== "completed") return problem("expired");
      return c.html(renderSubmittedPage({ caseTypeId: done.case_type_id, locale: done.locale, returnUrl: done.return_url }), 200);
    }
    return c.html(
      renderIntakePage({
        sessionId: record.session_id,
        caseTypeId: record.case_type_id,
        externalCaseId: record.external_case_id,
        locale: record.locale,
        returnUrl: record.return_url,
        formAction: `/i/${encodeURIComponent(record.session_id)}?exp=${check.expSeconds}&sig=${sig ?? ""}`,
        expiresAt: formatTimestamp(record.expires_at),
      }),
      200,
    );
  };

  hosted.get("/:id", (c) => page(c, false));
  hosted.post("/:id", (c) => page(c, true));
  return hosted;
}
