import { existsSync, writeFileSync } from "node:fs";
import { CaError } from "../../shared/ca-error.js";
import { loadConfig } from "../../composition/config.js";
import { openOperatorKeys, withOperator } from "../../composition/operator-role.js";
import { openAuditTrail, reportHtml } from "../../composition/audit.js";
import { OPERATOR_OPTION, operatorArg, recordedBy, requireString, type Command } from "../command.js";
import { auditAccess } from "../../composition/audit-access.js";

function dateArg(v: Record<string, unknown>, name: string): Date {
  const s = requireString(v, name);
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s);
  if (Number.isNaN(d.getTime()))
    throw new CaError("invalid-input", `--${name} '${s}' is not a date (YYYY-MM-DD or ISO 8601)`);
  return d;
}

const verify: Command = {
  name: "verify",
  summary:
    "Verify the audit hash chain, its signed checkpoints and the checkpoint kept " +
    "outside the database; names the first bad entry.",
  usage: "audit verify",
  options: {},
  async run() {
    const r = await withOperator(openOperatorKeys(loadConfig()), (rt) => openAuditTrail(rt).verify());
    console.log(JSON.stringify(r, null, 2));
    if (!r.ok) {
      console.error(`audit trail NOT intact: ${r.problem!.message}`);
      return 1;
    }
    console.error(`audit trail intact: ${r.entries} entries, ${r.checkpointsVerified} signed checkpoint(s)`);
    return 0;
  },
};

const checkpoint: Command = {
  name: "checkpoint",
  summary: "Sign a checkpoint of the chain's head with the HSM audit key (the service also does this on its schedule).",
  usage: "audit checkpoint",
  options: {},
  async run() {
    const c = await withOperator(openOperatorKeys(loadConfig()), (rt) => openAuditTrail(rt).checkpoint());
    console.log(JSON.stringify(c ?? { note: "the audit trail is empty" }, null, 2));
    return 0;
  },
};

const evidence: Command = {
  name: "evidence",
  summary:
    "The full story of one certificate (order, identifications, approval, " +
    "production, hand-out, activation, revocation) and a verdict per policy rule.",
  usage: "audit evidence --serial S [--operator NAME]",
  options: {
    serial: { type: "string", description: "certificate serial (hex)" },
    operator: {
      type: "string",
      description: "who reads (optional; recorded with the OS user as personal-data access)",
    },
  },
  async run(v) {
    const serial = requireString(v, "serial");
    if (!/^[0-9a-fA-F]{2,64}$/.test(serial)) throw new CaError("invalid-input", "--serial is a serial in hex");
    const e = await withOperator(openOperatorKeys(loadConfig()), (rt) =>
      auditAccess(rt, openAuditTrail(rt)).evidence(serial, { kind: "host", who: recordedBy(v) }),
    );
    console.log(JSON.stringify(e, null, 2));
    return e.verdict === "pass" ? 0 : 1;
  },
};

const report: Command = {
  name: "report",
  summary: "Conformance report for a period: a self-contained HTML file (and JSON).",
  usage: "audit report --from DATE --to DATE --out FILE.html [--json FILE.json] [--operator NAME]",
  options: {
    from: { type: "string", description: "start (YYYY-MM-DD or ISO 8601, inclusive)" },
    to: { type: "string", description: "end (exclusive)" },
    out: { type: "string", description: "the HTML report (refuses to overwrite)" },
    json: { type: "string", description: "also the report as JSON (refuses to overwrite)" },
    operator: {
      type: "string",
      description: "who reads (optional; recorded with the OS user as personal-data access)",
    },
  },
  async run(v) {
    const from = dateArg(v, "from");
    const to = dateArg(v, "to");
    if (to <= from) throw new CaError("invalid-input", "--to must be after --from");
    const out = requireString(v, "out");
    const json = v.json as string | undefined;
    for (const f of [out, json])
      if (f && existsSync(f)) throw new CaError("conflict", `${f} exists; refusing to overwrite`);
    const r = await withOperator(openOperatorKeys(loadConfig()), (rt) =>
      auditAccess(rt, openAuditTrail(rt)).report(from, to, { kind: "host", who: recordedBy(v) }),
    );
    writeFileSync(out, reportHtml(r), { flag: "wx" });
    if (json) writeFileSync(json, JSON.stringify(r, null, 2) + "\n", { flag: "wx" });
    console.log(
      JSON.stringify({
        html: out,
        ...(json ? { json } : {}),
        verdict: r.verdict,
        issued: r.issued.total,
        violations: r.violations.length,
        chainOk: r.auditTrail.ok,
      }),
    );
    return 0;
  },
};

const events: Command = {
  name: "events",
  summary:
    "Audit entries (JSON lines, oldest first), filtered: refusals, alarms, one " +
    "object's story. The read itself is audited (REQ-27).",
  usage:
    "audit events [--after-seq N] [--action PREFIX] [--outcome success|failure] " +
    "[--object ID] [--limit N] [--operator NAME]",
  options: {
    "after-seq": { type: "string", description: "only entries after this sequence number" },
    action: { type: "string", description: "action prefix, e.g. api. or revocation.alarm." },
    outcome: { type: "string", description: "success or failure" },
    object: { type: "string", description: "object id (an order, person, certificate serial, request path)" },
    limit: { type: "string", description: "at most this many entries (default 1000, at most 10000)" },
    operator: { type: "string", description: "who reads (optional; recorded with the OS user, REQ-27)" },
  },
  async run(v) {
    const num = (name: string, dflt: number, max: number) => {
      const s = v[name] as string | undefined;
      if (s === undefined) return dflt;
      if (!/^\d{1,12}$/.test(s) || Number(s) > max)
        throw new CaError("invalid-input", `--${name} is a number up to ${max}`);
      return Number(s);
    };
    const outcome = v.outcome as string | undefined;
    if (outcome !== undefined && outcome !== "success" && outcome !== "failure")
      throw new CaError("invalid-input", "--outcome is success or failure");
    const filter = {
      afterSeq: num("after-seq", 0, Number.MAX_SAFE_INTEGER),
      limit: num("limit", 1000, 10_000),
      ...(v.action ? { actionPrefix: String(v.action) } : {}),
      ...(outcome ? { outcome } : {}),
      ...(v.object ? { objectId: String(v.object) } : {}),
    };
    // A read changes nothing: --operator when given (validated), else the OS user, as for evidence and report.
    const who = v.operator === undefined ? recordedBy(v) : `operator:${operatorArg(v)}`;
    const rows = await withOperator(openOperatorKeys(loadConfig()), (rt) => openAuditTrail(rt).events(filter, who));
    for (const e of rows) console.log(JSON.stringify({ ...e, details: e.details ? JSON.parse(e.details) : null }));
    return 0;
  },
};

const retention: Command = {
  name: "retention",
  summary:
    "Remove audit entries older than the retention period (REQ-28: at least five " +
    "years), keeping the chain verifiable; audited.",
  usage: "audit retention --operator NAME",
  options: { operator: OPERATOR_OPTION },
  async run(v) {
    const r = await withOperator(openOperatorKeys(loadConfig()), (rt) =>
      openAuditTrail(rt).retention(rt.clock.now(), `operator:${operatorArg(v)}`),
    );
    console.log(
      JSON.stringify(r ?? { removed: 0, note: "nothing older than the retention period under a checkpoint" }),
    );
    return 0;
  },
};

const reconcile: Command = {
  name: "reconcile",
  summary:
    "After a restore: record the gap in the audit chain, raise CRL numbers above " +
    "those used before, sign a new checkpoint; signing is allowed again.",
  usage: "audit reconcile --operator NAME",
  options: { operator: OPERATOR_OPTION },
  async run(v) {
    const r = await withOperator(openOperatorKeys(loadConfig()), (rt) =>
      openAuditTrail(rt).reconcile(`operator:${operatorArg(v)}`),
    );
    console.log(JSON.stringify(r, null, 2));
    return 0;
  },
};

export const auditCommands = {
  name: "audit",
  summary: "Audit trail: verify, checkpoint, evidence, report, events, retention, reconcile",
  commands: [verify, checkpoint, evidence, report, events, retention, reconcile],
};
