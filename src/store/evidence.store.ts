import type { Knex } from "knex";
import type { EvidenceActor, EvidenceEvent, EvidenceIdentification, EvidenceOfficer } from "../audit/evidence.js";
import type { FieldCipher } from "./field-cipher.js";
import type {
  AuditEventRow,
  CardRow,
  CertificateRow,
  CrlRow,
  OfficerRow,
  OrderActorRow,
  OrderIdentificationRow,
  OrderRow,
  PersonRow,
} from "./rows.js";

export interface EvidenceRecords {
  readonly certificate: {
    serial: string;
    profile: string;
    issuerId: string;
    subject: string;
    notBefore: number;
    notAfter: number;
    status: string;
    revokedAt?: number;
    revocationReason?: string;
    requestedBy: string;
  };
  readonly order?: {
    id: string;
    organisationId: string;
    applicantPersonId: string;
    workflowId: string;
    workflowVersion: number;
    state: string;
    termsVersion?: string;
    registerOk?: boolean;
    registerStatus?: string;
    registerSource?: string;
    registerAt?: number;
    createdAt: number;
    handedOutAt?: number;
    activatedAt?: number;
    renewalOf?: string;
    purpose: string;
  };
  readonly identifications: EvidenceIdentification[];
  /** REQ-10: who took which step of the order, by human. */
  readonly actors: EvidenceActor[];
  readonly officers: Map<string, EvidenceOfficer>;
  readonly events: EvidenceEvent[];
  readonly card?: {
    id: string;
    cardSerial: string;
    slot?: string;
    algorithm?: string;
    state: string;
    pinState?: string;
  };
}

/** Reads everything the evidence for one certificate is built from (REQ-31). */
export class KnexEvidenceStore {
  /** `cipher` opens the officers' names, sealed at rest (REQ-29). */
  constructor(
    private readonly db: Knex,
    private readonly cipher: FieldCipher,
  ) {}

  async forCertificate(serial: string): Promise<EvidenceRecords | undefined> {
    const c = await this.db<CertificateRow>("certificates").where({ serial }).first();
    if (!c) return undefined;
    const o = await this.db<OrderRow>("orders").where({ cert_serial: serial }).first();
    const card = await this.db<CardRow>("cards").where({ cert_serial: serial }).orderBy("updated_at", "desc").first();
    const ids = o
      ? await this.db<OrderIdentificationRow>("order_identifications").where({ order_id: o.id }).orderBy("seq")
      : [];
    const actors = o ? await this.db<OrderActorRow>("order_actors").where({ order_id: o.id }).orderBy("seq") : [];
    const officerIds = [...new Set(ids.map((i) => i.officer_id))];
    const officers = new Map<string, EvidenceOfficer>();
    if (officerIds.length) {
      const rows: (Pick<PersonRow, "id" | "name" | "organisation_id"> &
        Pick<OfficerRow, "roles" | "qualified_until">)[] = await this.db("people as p")
        .leftJoin("officers as f", "f.person_id", "p.id")
        .whereIn("p.id", officerIds)
        .select("p.id", "p.name", "p.organisation_id", "f.roles", "f.qualified_until");
      await this.cipher.ready(...rows.map((r) => r.name));
      for (const r of rows)
        officers.set(r.id, {
          personId: r.id,
          name: this.cipher.open(r.name, { table: "people", column: "name", id: r.id }),
          organisationId: r.organisation_id,
          roles: r.roles ? JSON.parse(r.roles) : [],
          ...(r.qualified_until != null ? { qualifiedUntil: Number(r.qualified_until) } : {}),
        });
    }
    const objects: [string, string][] = [["certificate", serial]];
    if (o) objects.push(["order", o.id]);
    if (card) objects.push(["card", card.id]);
    const events = await this.db<AuditEventRow>("audit_events")
      .where((q) => {
        for (const [t, id] of objects) q.orWhere((w) => w.where("object_type", t).andWhere("object_id", id));
      })
      .orderBy("seq");
    return {
      certificate: {
        serial: c.serial,
        profile: `${c.profile_id}@${c.profile_version}`,
        issuerId: c.issuer_id,
        subject: c.subject_dn,
        notBefore: Number(c.not_before),
        notAfter: Number(c.not_after),
        status: c.status,
        ...(c.revoked_at != null
          ? { revokedAt: Number(c.revoked_at), revocationReason: c.revocation_reason as string }
          : {}),
        requestedBy: c.requested_by,
      },
      ...(o
        ? {
            order: {
              id: o.id,
              organisationId: o.organisation_id,
              applicantPersonId: o.applicant_id,
              workflowId: o.workflow_id,
              workflowVersion: Number(o.workflow_version),
              state: o.state,
              ...(o.terms_version ? { termsVersion: o.terms_version } : {}),
              ...(o.register_ok != null ? { registerOk: !!o.register_ok } : {}),
              ...(o.register_status ? { registerStatus: o.register_status } : {}),
              ...(o.register_source ? { registerSource: o.register_source } : {}),
              ...(o.register_at != null ? { registerAt: Number(o.register_at) } : {}),
              createdAt: Number(o.created_at),
              ...(o.handed_out_at != null ? { handedOutAt: Number(o.handed_out_at) } : {}),
              ...(o.activated_at != null ? { activatedAt: Number(o.activated_at) } : {}),
              ...(o.renewal_of ? { renewalOf: o.renewal_of } : {}),
              purpose: o.purpose,
            },
          }
        : {}),
      identifications: ids.map((i) => ({
        kind: i.kind as EvidenceIdentification["kind"],
        officerId: i.officer_id,
        at: Number(i.at),
        documentType: i.document_type,
        documentExpires: Number(i.document_expires),
        faceCompared: !!i.face_compared,
      })),
      actors: actors.map((a) => ({
        action: a.action,
        personId: a.person_id,
        humanId: a.human_id,
        at: Number(a.at),
      })),
      officers,
      events: events.map((e) => ({
        seq: Number(e.seq),
        id: e.id,
        at: Number(e.at),
        actor: e.actor,
        action: e.action,
        objectType: e.object_type,
        objectId: e.object_id,
        outcome: e.outcome,
        policy: e.policy ?? null,
        details: e.details ? JSON.parse(e.details) : null,
      })),
      ...(card
        ? {
            card: {
              id: card.id,
              cardSerial: card.card_serial,
              ...(card.slot ? { slot: card.slot } : {}),
              ...(card.algorithm ? { algorithm: card.algorithm } : {}),
              state: card.state,
              ...(card.pin_state ? { pinState: card.pin_state } : {}),
            },
          }
        : {}),
    };
  }

  /** Serials issued in a time window (for the report), with profile. */
  /** The organisation whose order a certificate was issued for (undefined: infrastructure or no order). */
  async organisationOf(serial: string): Promise<string | undefined> {
    const o = await this.db<OrderRow>("orders").where({ cert_serial: serial }).first("organisation_id");
    return o?.organisation_id as string | undefined;
  }

  /**
   * `organisationId` scopes to certificates issued for that organisation's orders (REQ-23: a customer auditor's view).
   */
  async issuedBetween(
    from: number,
    to: number,
    organisationId?: string,
  ): Promise<{ serial: string; profile: string; createdAt: number }[]> {
    let q = this.db<CertificateRow>("certificates")
      .where("certificates.status", "issued")
      .andWhere("certificates.created_at", ">=", from)
      .andWhere("certificates.created_at", "<", to);
    if (organisationId)
      q = q.whereIn(
        "certificates.serial",
        this.db<OrderRow>("orders")
          .where({ organisation_id: organisationId })
          .whereNotNull("cert_serial")
          .select("cert_serial"),
      );
    const rows = await q
      .orderBy("certificates.created_at")
      .select("serial", "profile_id", "profile_version", "created_at");
    return rows.map((r) => ({
      serial: r.serial,
      profile: `${r.profile_id}@${r.profile_version}`,
      createdAt: Number(r.created_at),
    }));
  }

  async revocationsBetween(
    from: number,
    to: number,
    organisationId?: string,
  ): Promise<{ reason: string; n: number }[]> {
    let q = this.db<CertificateRow>("certificates")
      .whereNotNull("revoked_at")
      .andWhere("revoked_at", ">=", from)
      .andWhere("revoked_at", "<", to);
    if (organisationId)
      q = q.whereIn(
        "serial",
        this.db<OrderRow>("orders")
          .where({ organisation_id: organisationId })
          .whereNotNull("cert_serial")
          .select("cert_serial"),
      );
    const rows = await q.groupBy("revocation_reason").select("revocation_reason").count({ n: "*" });
    return rows.map((r) => ({ reason: r.revocation_reason ?? "unspecified", n: Number(r.n) }));
  }

  async activityBetween(
    from: number,
    to: number,
    organisationId?: string,
  ): Promise<{ actor: string; action: string; outcome: string; n: number }[]> {
    let q = this.db<AuditEventRow>("audit_events").where("at", ">=", from).andWhere("at", "<", to);
    if (organisationId) q = q.andWhere({ organisation_id: organisationId });
    const rows = await q
      .groupBy("actor", "action", "outcome")
      .select("actor", "action", "outcome")
      .count({ n: "*" })
      .orderBy("actor");
    return rows.map((r) => ({ actor: r.actor, action: r.action, outcome: r.outcome, n: Number(r.n) }));
  }

  async crlsBetween(
    from: number,
    to: number,
  ): Promise<
    { issuerId: string; number: string; kind: string; thisUpdate: number; nextUpdate: number; entries: number }[]
  > {
    const rows = await this.db<CrlRow>("crls")
      .where("this_update", ">=", from)
      .andWhere("this_update", "<", to)
      .orderBy("this_update")
      .select("issuer_id", "number", "kind", "this_update", "next_update", "entries");
    return rows.map((r) => ({
      issuerId: r.issuer_id,
      number: String(r.number),
      kind: r.kind,
      thisUpdate: Number(r.this_update),
      nextUpdate: Number(r.next_update),
      entries: Number(r.entries),
    }));
  }
}
