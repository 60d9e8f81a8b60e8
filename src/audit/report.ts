import type { Evidence } from "./evidence.js";
import type { VerifyResult } from "./chain-verifier.js";

/** One row of the REQ-01..33 matrix (policies/requirements-matrix.yaml). */
export interface MatrixRow {
  readonly req: string;
  readonly title: string;
  readonly status: "enforced" | "partial" | "organisational" | "not-yet";
  readonly controls: readonly { readonly path: string; readonly symbol: string }[];
  readonly tests: readonly { readonly path: string; readonly name: string }[];
  readonly note?: string;
}

export interface ReportInput {
  readonly from: Date;
  readonly to: Date;
  readonly generatedAt: Date;
  readonly chain: VerifyResult;
  readonly evidence: readonly Evidence[];
  readonly revocations: readonly { readonly reason: string; readonly n: number }[];
  readonly activity: readonly {
    readonly actor: string;
    readonly action: string;
    readonly outcome: string;
    readonly n: number;
  }[];
  readonly crls: readonly {
    readonly issuerId: string;
    readonly number: string;
    readonly kind: string;
    readonly thisUpdate: number;
    readonly nextUpdate: number;
    readonly entries: number;
  }[];
  readonly ceremonies: readonly {
    readonly file: string;
    readonly ceremony: string;
    readonly finishedAt: string;
    readonly operator: string;
    readonly witness?: string;
    readonly verified: boolean;
  }[];
  readonly matrix: readonly MatrixRow[];
  /** REQ-10: each workflow's separation matrix (pairs of steps distinct humans take). */
  readonly workflows: readonly {
    readonly workflow: string;
    readonly loa: number;
    readonly separation: readonly (readonly [string, string])[];
  }[];
}

export interface ConformanceReport {
  readonly period: { readonly from: string; readonly to: string };
  readonly generatedAt: string;
  readonly auditTrail: VerifyResult;
  readonly issued: {
    readonly total: number;
    readonly byProfile: Record<string, number>;
    readonly byLoa: Record<string, number>;
  };
  readonly violations: {
    readonly serial: string;
    readonly rule: string;
    readonly requirement: string;
    readonly cps: string;
    readonly detail: string;
  }[];
  readonly revocations: ReportInput["revocations"];
  readonly officerActivity: ReportInput["activity"];
  readonly crls: ReportInput["crls"];
  readonly ceremonies: ReportInput["ceremonies"];
  readonly requirements: ReportInput["matrix"];
  /** REQ-10: the separation matrices and how the period's certificates fared against them. */
  readonly separation: {
    readonly workflows: ReportInput["workflows"];
    readonly certificates: { readonly pass: number; readonly fail: number; readonly notApplicable: number };
  };
  readonly verdict: "conformant" | "findings";
}

/** The report's content (also its JSON form). */
export function buildReport(input: ReportInput): ConformanceReport {
  const byProfile: Record<string, number> = {};
  const byLoa: Record<string, number> = {};
  const violations: ConformanceReport["violations"][number][] = [];
  for (const e of input.evidence) {
    byProfile[e.certificate.profile] = (byProfile[e.certificate.profile] ?? 0) + 1;
    const loa = e.order ? `LoA${e.order.loa}` : "no order (infrastructure)";
    byLoa[loa] = (byLoa[loa] ?? 0) + 1;
    for (const v of e.verdicts)
      if (v.result === "fail")
        violations.push({
          serial: e.certificate.serial,
          rule: v.rule,
          requirement: v.requirement,
          cps: v.cps,
          detail: v.detail,
        });
  }
  const sep = { pass: 0, fail: 0, notApplicable: 0 };
  for (const e of input.evidence) {
    const v = e.separation?.verdict ?? "not-applicable";
    if (v === "pass") sep.pass++;
    else if (v === "fail") sep.fail++;
    else sep.notApplicable++;
  }
  return {
    separation: { workflows: input.workflows, certificates: sep },
    period: { from: input.from.toISOString(), to: input.to.toISOString() },
    generatedAt: input.generatedAt.toISOString(),
    auditTrail: input.chain,
    issued: { total: input.evidence.length, byProfile, byLoa },
    violations,
    revocations: input.revocations,
    officerActivity: input.activity,
    crls: input.crls,
    ceremonies: input.ceremonies,
    requirements: input.matrix,
    verdict: input.chain.ok && violations.length === 0 ? "conformant" : "findings",
  };
}

const esc = (s: unknown) =>
  String(s ?? "").replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
const table = (head: readonly string[], rows: readonly (readonly unknown[])[], empty = "none") => {
  if (rows.length === 0) return `<p class="none">${esc(empty)}</p>`;
  const th = head.map((h) => `<th>${esc(h)}</th>`).join("");
  const tr = rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("");
  return `<table><thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table>`;
};
const STYLE =
  "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#111}h1{font-size:1.5em}" +
  "h2{margin-top:1.8em;border-bottom:1px solid #ccc}\n" +
  "table{border-collapse:collapse;margin:.5em 0;width:100%}" +
  "th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f2f2f2}\n" +
  ".ok{color:#075e07;font-weight:600}.bad{color:#a00;font-weight:600}.none{color:#666;font-style:italic}" +
  "code{font-size:.9em}";
const iso = (ms: number) => new Date(ms).toISOString();

/** A self-contained HTML document (no scripts, no external resources): printable and archivable. */
export function reportHtml(r: ConformanceReport): string {
  const chain = r.auditTrail;
  const title = `cardpki conformance report ${esc(r.period.from.slice(0, 10))} – ${esc(r.period.to.slice(0, 10))}`;
  const external = chain.externalCheckpoint
    ? `, external checkpoint at seq ${chain.externalCheckpoint.seq} (${chain.externalCheckpoint.at})`
    : "";
  const sep = r.separation.certificates;
  const separation =
    `Certificates of the period judged against their workflow's matrix: ${sep.pass} pass, ` +
    `<span class="${sep.fail ? "bad" : "ok"}">${sep.fail} fail</span>, ` +
    `${sep.notApplicable} not applicable (no card order or no recorded steps).`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>
${STYLE}
</style></head><body>
<h1>cardpki conformance report</h1>
<p>Period <b>${esc(r.period.from)}</b> to <b>${esc(r.period.to)}</b>; generated ${esc(r.generatedAt)}.
Verdict: <span id="verdict" class="${r.verdict === "conformant" ? "ok" : "bad"}">${esc(r.verdict)}</span>.</p>
<h2>Audit trail integrity (REQ-27)</h2>
<p id="chain" class="${chain.ok ? "ok" : "bad"}">${
    chain.ok
      ? `hash chain verified: ${chain.entries} entries, ${chain.checkpointsVerified} signed checkpoint(s)${external}`
      : `FAILED: ${esc(chain.problem?.message)}`
  }</p>
<h2>Certificates issued</h2>
<p>${r.issued.total} certificate(s).</p>
${table(["profile", "count"], Object.entries(r.issued.byProfile))}
${table(["assurance level", "count"], Object.entries(r.issued.byLoa))}
<h2>Rule violations (REQ-31)</h2>
${table(
  ["certificate", "rule", "requirement", "CPS", "detail"],
  r.violations.map((v) => [v.serial, v.rule, v.requirement, v.cps, v.detail]),
  "no violation found",
)}
<h2>Separation of duties (REQ-10)</h2>
<p id="separation">${separation}</p>
${table(
  ["workflow", "LoA", "steps that distinct humans take"],
  r.separation.workflows.map((w) => [w.workflow, w.loa, w.separation.map(([a, b]) => `[${a}, ${b}]`).join(" ")]),
)}
<h2>Revocations by reason</h2>
${table(
  ["reason", "count"],
  r.revocations.map((x) => [x.reason, x.n]),
)}
<h2>Officer and system activity</h2>
${table(
  ["actor", "action", "outcome", "count"],
  r.officerActivity.map((a) => [a.actor, a.action, a.outcome, a.n]),
)}
<h2>CRL freshness history (REQ-19/20)</h2>
${table(
  ["issuer", "number", "kind", "thisUpdate", "nextUpdate", "entries"],
  r.crls.map((c) => [c.issuerId, c.number, c.kind, iso(c.thisUpdate), iso(c.nextUpdate), c.entries]),
)}
<h2>Key ceremonies (REQ-26)</h2>
${table(
  ["ceremony", "finished", "operator", "witness", "transcript", "signature"],
  r.ceremonies.map((c) => [
    c.ceremony,
    c.finishedAt,
    c.operator,
    c.witness ?? "",
    c.file,
    c.verified ? "verified" : "NOT VERIFIED",
  ]),
)}
<h2>Requirements matrix (REQ-01..33)</h2>
${table(
  ["requirement", "title", "status", "enforced by", "proved by", "note"],
  r.requirements.map((m) => [
    m.req,
    m.title,
    m.status,
    m.controls.map((c) => `${c.path} ${c.symbol}`).join("\n"),
    m.tests.map((t) => `${t.path}: ${t.name}`).join("\n"),
    m.note ?? "",
  ]),
)}
</body></html>
`;
}
