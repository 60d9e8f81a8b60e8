import { join } from "node:path";
import { CaError } from "../shared/ca-error.js";
import { newId } from "../shared/ids.js";
import { loadAuditAccessPolicy, type AuditAccessPolicy } from "../policy/audit-access-policy.js";
import { actorId, requireRole } from "../ra/actor-checks.js";
import type { Actor } from "../ra/order.js";
import { recordAuditEvent } from "../store/commit-queue.js";
import type { Evidence } from "../audit/evidence.js";
import type { ConformanceReport } from "../audit/report.js";
import type { AuditTrail } from "./audit.js";
import type { Parts } from "./parts.js";
import { evidencePersonIds, namedEvidence, namedReport, reportPersonIds } from "./evidence-names.js";
import { KnexDirectoryStore } from "../store/directory.store.js";
import { fieldCipher } from "./data-keys.js";

const DAY = 86_400_000;

/** Who reads: an authenticated auditor (RA API), or the CA host's operator (CLI, unscoped). */
export type AuditReader =
  { readonly kind: "actor"; readonly actor: Actor } | { readonly kind: "host"; readonly who: string };

export interface AuditAccess {
  readonly policy: AuditAccessPolicy;
  evidence(serial: string, reader: AuditReader): Promise<Evidence>;
  report(
    from: Date,
    to: Date,
    reader: AuditReader,
  ): Promise<ReturnType<typeof namedReport<ConformanceReport>> & { scope: { organisationId: string | null } }>;
}

/**
 * REQ-27, REQ-31, REQ-23: reading the audit trail's evidence and reports. A customer
 * organisation's auditor sees only certificates of their organisation's orders and its activity;
 * the service owner's auditors (and the CA host's operator) see all. Report periods are capped by
 * policies/audit/audit-access.yaml. Every read is audited as personal-data access.
 */
export function auditAccess(
  rt: Parts<"config" | "clock" | "random" | "db" | "readDb" | "keystore">,
  trail: AuditTrail,
  policy: AuditAccessPolicy = loadAuditAccessPolicy(join(rt.config.policyDir, "audit", "audit-access.yaml")),
): AuditAccess {
  /** The organisation an auditor is limited to; undefined = everything. */
  const scopeOf = (reader: AuditReader, what: string): string | undefined => {
    if (reader.kind === "host") return undefined;
    requireRole(reader.actor, ["auditor"], what);
    if (reader.actor.serviceOwnerStaff) return undefined;
    if (!reader.actor.organisationId)
      throw new CaError(
        "forbidden",
        `${what}: an auditor without an organisation sees nothing (rule auditor-scope, REQ-23)`,
        { rule: "auditor-scope", requirement: "REQ-23" },
        { code: "audit.no-organisation" },
      );
    return reader.actor.organisationId;
  };
  const record = (reader: AuditReader, objectType: string, objectId: string, details: Record<string, unknown>) =>
    recordAuditEvent(rt.db, {
      id: newId(rt.random),
      at: rt.clock.now(),
      actor: reader.kind === "actor" ? actorId(reader.actor) : reader.who,
      action: "personal-data.read",
      objectType,
      objectId,
      outcome: "success",
      ...(reader.kind === "actor" && reader.actor.organisationId
        ? { organisationId: reader.actor.organisationId }
        : {}),
      details: {
        ...details,
        requirement: "REQ-27",
        ...(reader.kind === "actor" && reader.actor.credentialSerial
          ? { credential: reader.actor.credentialSerial }
          : {}),
      },
    });
  let dir: Promise<KnexDirectoryStore> | undefined;
  const directory = () => (dir ??= fieldCipher(rt).then((cipher) => new KnexDirectoryStore(rt.db, rt.readDb, cipher)));
  return {
    policy,
    async evidence(serial, reader) {
      const scope = scopeOf(reader, "reading audit evidence");
      if (scope !== undefined && (await trail.organisationOf(serial)) !== scope)
        throw new CaError(
          "forbidden",
          `certificate ${serial} was not issued for your organisation's orders: an ` +
            `organisation's auditor reads only its own evidence (rule auditor-scope, ` +
            `REQ-23, REQ-31)`,
          { rule: "auditor-scope", requirement: "REQ-23" },
          { code: "audit.other-organisation" },
        );
      const raw = await trail.evidence(serial);
      // REQ-27: names where a person reads the evidence, for the people of the reader's organisation (all for the host
      // and the service owner's auditors).
      const people = await (await directory()).people(evidencePersonIds(raw));
      const e = namedEvidence(raw, people, (organisationId) => scope === undefined || scope === organisationId);
      await record(reader, "certificate", serial.toLowerCase(), {
        what: "audit evidence (holder and officer names)",
        scope: scope ?? "all",
        named: Object.values(e.people).filter((p) => p.name).length,
      });
      return e;
    },
    async report(from, to, reader) {
      const scope = scopeOf(reader, "the conformance report");
      if (!(to > from))
        throw new CaError("invalid-input", "the report period must end after it starts", undefined, {
          code: "audit.report-dates",
        });
      const days = (to.getTime() - from.getTime()) / DAY;
      if (days > policy.report.maxPeriodDays)
        throw new CaError(
          "invalid-input",
          `a report covers at most ${policy.report.maxPeriodDays} days (asked: ` +
            `${Math.ceil(days)}); ask for several periods (rule report-period, ` +
            `${policy.id}@${policy.version}, REQ-31)`,
          { rule: "report-period", requirement: "REQ-31" },
          { code: "audit.report-too-long", params: { days: policy.report.maxPeriodDays } },
        );
      const raw = await trail.report(from, to, scope ? { organisationId: scope } : {});
      // REQ-27: officers by name (or label) where a person reads the report, never officer:<id>.
      const r = namedReport(
        raw,
        await (await directory()).people(reportPersonIds(raw)),
        (organisationId) => scope === undefined || scope === organisationId,
      );
      await record(reader, "audit-report", `${from.toISOString()}/${to.toISOString()}`.slice(0, 128), {
        what: "conformance report (officer activity, names)",
        scope: scope ?? "all",
        issued: r.issued.total,
        named: Object.values(r.people).filter((p) => p.name).length,
      });
      return { ...r, scope: { organisationId: scope ?? null } };
    },
  };
}
