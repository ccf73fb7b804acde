import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { describe, expect, it } from "vitest";
import { builtPackage, klarefiStackConfig, withInlineStack } from "../helpers/pulumi";
import { startTestServer } from "../helpers/server";

// What the applicant sees: a link provisioned through the real engine, opened
// in a real (headless) browser, before and after `pulumi destroy`.

/** CI installs it with `apt-get install -y chromium`; a missing browser fails the test rather than skipping it. */
const CHROMIUM = "/usr/bin/chromium";

const klarefi = builtPackage();

describe("the hosted intake page in a browser", () => {
  it("shows the intake page for a provisioned link and the revoked page after pulumi destroy", async () => {
    expect(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: install Chromium (apt-get update && apt-get install -y chromium) to run the browser test`,
    ).toBe(true);

    const server = await startTestServer();
    let browser: Browser | undefined;
    try {
      await withInlineStack(
        {
          projectName: "klarefi-browser",
          program: async () => {
            const session = new klarefi.IntakeSession("claim_48392", {
              caseTypeId: "motor_claim",
              externalCaseId: "claim_48392",
              externalApplicantId: "applicant_789",
              returnUrl: "https://claims.example.com/claim_48392",
              locale: "nl",
            });
            return { sessionId: session.sessionId, signedUrl: session.signedUrl };
          },
          config: klarefiStackConfig(server),
        },
        async ({ stack }) => {
          const up = await stack.up();
          const signedUrl = String(up.outputs.signedUrl?.value ?? "");
          const sessionId = String(up.outputs.sessionId?.value ?? "");
          expect(signedUrl.startsWith(`${server.url}/i/${sessionId}?`)).toBe(true);

          browser = await chromium.launch({
            executablePath: CHROMIUM,
            args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu", "--no-first-run", "--disable-sync"],
          });
          const page = await browser.newPage();

          const opened = await page.goto(signedUrl);
          expect(opened?.status()).toBe(200);
          expect(await page.title()).toBe("Klarefi intake: motor_claim");
          expect(await page.getAttribute("html", "lang")).toBe("nl");
          expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Klarefi intake");
          const caseType = page.locator('[data-field="case_type_id"]');
          expect(await caseType.isVisible()).toBe(true);
          expect(await caseType.textContent()).toBe("motor_claim");
          expect(await page.locator('[data-field="external_case_id"]').textContent()).toBe("claim_48392");
          expect(await page.locator('[data-field="session_id"]').textContent()).toBe(sessionId);
          expect(await page.getByRole("button", { name: "Submit" }).isVisible()).toBe(true);

          await stack.destroy();

          const reloaded = await page.reload();
          expect(reloaded?.status()).toBe(410);
          expect(await page.title()).toBe("Klarefi intake: This link was revoked");
          const heading = page.getByRole("heading", { level: 1 });
          expect(await heading.isVisible()).toBe(true);
          expect(await heading.textContent()).toBe("This link was revoked");
          expect(await page.locator("body").innerText()).toContain("Ask the sender for a new link");
          expect(await page.getByRole("button", { name: "Submit" }).count()).toBe(0);
        },
      );
    } finally {
      await browser?.close();
      await server.stop();
    }
  });
});
