// Klarefi intake sessions as code: signed applicant links provisioned with `pulumi up` and revoked with `pulumi destroy`.
package klarefi
