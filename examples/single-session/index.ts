import * as klarefi from "@klarefi/pulumi";

// The request from the "Create an Intake Session" documentation, as a resource:
// `pulumi up` creates the session, `pulumi destroy` revokes its link. The
// idempotency key is derived from the stack, the resource name and these
// inputs, so a retried or interrupted `up` never hands out a second link.
const session = new klarefi.IntakeSession("claim_48392", {
  caseTypeId: "motor_claim",
  externalCaseId: "claim_48392",
  externalApplicantId: "applicant_789",
  returnUrl: "https://claims.example.com/claim_48392",
  locale: "nl",
});

/** Store this alongside claim_48392: in v1 it is also the case id for case reads. */
export const sessionId = session.sessionId;
/** The link to hand the applicant. A secret: `pulumi stack output --show-secrets signedUrl` prints it. */
export const signedUrl = session.signedUrl;
