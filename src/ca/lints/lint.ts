import type { CertificateProfile } from "../../policy/certificate-profile.js";
import type { Authority } from "../authority.js";
import { CaError } from "../../shared/ca-error.js";
import type { TbsView } from "./tbs-view.js";
import { readTbsViewFast } from "./fast-tbs-view.js";

/** What a lint sees: the TBS read back from the DER that would be signed (never the writer's values). */
export interface LintContext {
  readonly tbs: TbsView;
  readonly tbsDer: Uint8Array;
  readonly profile: CertificateProfile;
  readonly issuer: Authority;
  readonly selfSigned: boolean;
  /** REQ-01: the e-mail domains the subject's organisation validated (empty: none). */
  readonly validatedEmailDomains?: readonly string[];
}

/** One rule, with the document it comes from (model: boulder linter/lints/cpcps). */
export interface Lint {
  readonly id: string;
  readonly citation: string;
  /** Returns a failure message, or undefined when the TBS passes. */
  check(ctx: LintContext): string | undefined;
}

export interface LintFinding {
  readonly id: string;
  readonly citation: string;
  readonly message: string;
}

export function runLints(lints: readonly Lint[], ctx: Omit<LintContext, "tbs">): LintFinding[] {
  let tbs: TbsView;
  try {
    // The hand-written reader, checked against the library reader (readTbsView) in the tests.
    tbs = readTbsViewFast(ctx.tbsDer);
  } catch (e) {
    return [{ id: "tbs_der_parses", citation: "X.690 10 / RFC 5280 4.1", message: (e as Error).message }];
  }
  const full: LintContext = { ...ctx, tbs };
  const findings: LintFinding[] = [];
  for (const l of lints) {
    let msg: string | undefined;
    try {
      msg = l.check(full);
    } catch (e) {
      msg = `lint could not read the TBS: ${(e as Error).message}`;
    }
    if (msg !== undefined) findings.push({ id: l.id, citation: l.citation, message: msg });
  }
  return findings;
}

/** A failing lint means nothing is signed (model: boulder issuance/cert.go). */
export function assertLintsPass(findings: readonly LintFinding[]): void {
  if (findings.length > 0)
    throw new CaError(
      "lint-failed",
      `certificate failed ${findings.length} lint(s): ` +
        `${findings.map((f) => `${f.id} (${f.citation}): ${f.message}`).join("; ")}`,
      { findings, rule: findings.map((f) => f.id).join(", ") },
      { code: "certificate.lint-failed" },
    );
}
