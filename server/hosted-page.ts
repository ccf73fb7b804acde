/**
 * @module
 * The applicant-facing HTML pages of the local server: the intake page a
 * signed link opens, the thank-you page after submitting, and the refusal
 * pages (invalid, revoked, expired, already submitted). Plain HTML, no
 * scripts, written with Hono's `html` tagged template, which escapes every
 * interpolated string (`& < > " '`) for element content and quoted attributes.
 */
import { html, raw } from "hono/html";

/** A fragment from the `html` template; the pages never interpolate promises, so it is always ready. */
type Markup = ReturnType<typeof html>;

function toText(markup: Markup): string {
  if (markup instanceof Promise) throw new TypeError("Hosted pages render synchronously; a value interpolated a promise.");
  return markup.toString();
}

/** Headers every hosted page carries: the page URL holds a secret, so nothing is cached or leaked as a referrer. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "Cache-Control": "no-store",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
  "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
};

export interface IntakePageView {
  sessionId: string;
  caseTypeId: string;
  externalCaseId: string;
  locale: string | null;
  returnUrl: string | null;
  /** Where the form posts: the same signed URL, relative to the server. */
  formAction: string;
  expiresAt: string;
}

export type LinkProblem = "invalid" | "revoked" | "expired" | "submitted";

const STYLE = `body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1b1b1f}
h1{font-size:1.5rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}
label{display:block;margin:1rem 0 .25rem}textarea{width:100%;min-height:8rem}button{margin-top:1rem;padding:.5rem 1rem}
.note{color:#555;font-size:.9rem}`;

function page(title: string, lang: string | null, body: Markup): string {
  return toText(html`<!doctype html>
<html lang="${lang ?? "en"}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title}</title>
<style>${raw(STYLE)}</style>
</head>
<body>
${body}
</body>
</html>
`);
}

function returnLink(returnUrl: string | null): Markup {
  return returnUrl === null ? html`` : html`<p><a href="${returnUrl}" rel="noreferrer">Return to where you came from</a></p>`;
}

/** The page an open session's signed link shows. */
export function renderIntakePage(view: IntakePageView): string {
  return page(
    `Klarefi intake: ${view.caseTypeId}`,
    view.locale,
    html`<main>
<h1>Klarefi intake</h1>
<dl>
<dt>Case type</dt><dd data-field="case_type_id">${view.caseTypeId}</dd>
<dt>Case reference</dt><dd data-field="external_case_id">${view.externalCaseId}</dd>
<dt>Session</dt><dd data-field="session_id">${view.sessionId}</dd>
<dt>Link valid until</dt><dd data-field="expires_at">${view.expiresAt}</dd>
</dl>
<form method="post" action="${view.formAction}">
<label for="description">What happened?</label>
<textarea id="description" name="description" required maxlength="10000"></textarea>
<button type="submit">Submit</button>
</form>
${returnLink(view.returnUrl)}
<p class="note">This is the local Klarefi development server.</p>
</main>`,
  );
}

/** The page after the applicant submitted the form. */
export function renderSubmittedPage(view: { caseTypeId: string; locale: string | null; returnUrl: string | null }): string {
  return page(
    `Klarefi intake: submitted`,
    view.locale,
    html`<main>
<h1>Thank you</h1>
<p>Your ${view.caseTypeId} intake was submitted.</p>
${returnLink(view.returnUrl)}
</main>`,
  );
}

/** Status and HTML for a link the server refuses. */
export function renderLinkProblemPage(problem: LinkProblem): { status: 403 | 410; html: string } {
  const pages: Record<LinkProblem, { status: 403 | 410; heading: string; text: string }> = {
    invalid: {
      status: 403,
      heading: "This link is not valid",
      text: "The link is incomplete or was changed. Ask the sender for a new link.",
    },
    revoked: {
      status: 410,
      heading: "This link was revoked",
      text: "The sender revoked this intake link. Ask the sender for a new link if you still need to submit.",
    },
    expired: {
      status: 410,
      heading: "This link has expired",
      text: "The intake link expired. Ask the sender for a new link if you still need to submit.",
    },
    submitted: {
      status: 410,
      heading: "Already submitted",
      text: "This intake was already submitted; there is nothing more to do here.",
    },
  };
  const p = pages[problem];
  return {
    status: p.status,
    html: page(`Klarefi intake: ${p.heading}`, null, html`<main>\n<h1>${p.heading}</h1>\n<p>${p.text}</p>\n</main>`),
  };
}
