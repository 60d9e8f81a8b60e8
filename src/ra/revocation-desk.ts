import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import type { AuditEvent } from "../ca/ports.js";
import type { RevocationPolicy } from "../policy/revocation-policy.js";
import type { DirectoryStore } from "./directory.js";
import type { Actor, OrderStore } from "./order.js";
import type { CardCertificates } from "./ports.js";
import { actorId, requireRole, requireScope } from "./actor-checks.js";

export interface RevocationRequest {
  readonly id: string;
  readonly serial: string;
  readonly reason: string;
  readonly organisationId: string;
  readonly channel: "holder" | "officer";
  readonly requestedBy: string;
  readonly requestedAt: Date;
  readonly status: "done" | "pending" | "approved" | "refused";
  readonly decidedBy?: string;
  readonly decidedAt?: Date;
}

/** Store port for revocation requests (the count of recent ones is the rate limit, REQ-18). */
export interface RevocationRequestStore {
  countSince(requestedBy: string, channel: RevocationRequest["channel"], since: Date): Promise<number>;
  add(r: RevocationRequest, audit: AuditEvent): Promise<void>;
  get(id: string): Promise<RevocationRequest | undefined>;
  /** Compare-and-set from pending; false when someone else decided first. */
  decide(id: string, status: "approved" | "refused", by: string, at: Date, audit: AuditEvent): Promise<boolean>;
  pending(organisationId: string | undefined, limit: number): Promise<RevocationRequest[]>;
  /** An audit event on its own (alarms, refusals). */
  alarm(audit: AuditEvent): Promise<void>;
}

const HOUR = 3_600_000;

/**
 * Suspension and revocation on request (REQ-17, REQ-18): the holder for their own cards,
 * rate-limited; officers within their organisation, with a second officer's approval beyond the
 * policy's hourly threshold; every request and alarm in the audit trail.
 */
export class RevocationDesk {
  constructor(private readonly deps: { requests: RevocationRequestStore; orders: OrderStore; directory: DirectoryStore; certs: CardCertificates; policy: RevocationPolicy; clock: Clock; random: Random }) {}

  private event(actor: Actor, action: string, objectId: string, outcome: "success" | "failure", details: Record<string, unknown>): AuditEvent {
    return { id: newId(this.deps.random), at: this.deps.clock.now(), actor: actorId(actor), action, objectType: "certificate", objectId, outcome, details };
  }

  /** The organisation a card or officer certificate belongs to, and its holder. */
  private async owner(serial: string): Promise<{ organisationId: string; personId: string }> {
    const s = serial.toLowerCase();
    const order = await this.deps.orders.byCertificate(s);
    if (order) return { organisationId: order.organisationId, personId: order.applicantPersonId };
    const personId = await this.deps.directory.credentialOwner(s);
    const person = personId ? await this.deps.directory.person(personId) : undefined;
    if (person) return { organisationId: person.organisationId, personId: person.id };
    throw new CaError("not-found", `no card certificate ${s}`);
  }

  private async execute(serial: string, reason: string, actor: Actor): Promise<void> {
    if (reason === "certificateHold") await this.deps.certs.suspend(serial, actorId(actor));
    else await this.deps.certs.revoke(serial, reason, actorId(actor));
  }

  /** REQ-18: a holder's self-service requests per day; beyond the policy's number refused, with an alarm. Returns now. */
  private async holderQuota(actor: Actor, serial: string): Promise<Date> {
    const { policy, clock, requests } = this.deps;
    const now = clock.now();
    if ((await requests.countSince(actor.personId!, "holder", new Date(now.getTime() - 24 * HOUR))) >= policy.requests.holderPerDay) {
      await requests.alarm(this.event(actor, "revocation.alarm.holder-rate", serial, "failure", { limit: policy.requests.holderPerDay, window: "24h" }));
      throw new CaError("rate-limited", `at most ${policy.requests.holderPerDay} self-service requests per day; call the service desk (REQ-18)`, { retryAfterSeconds: 3600 });
    }
    return now;
  }

  /** REQ-17: the holder suspends or revokes their own card, authenticated with an eID; REQ-18: rate-limited. */
  async holderRequest(actor: Actor, serial: string, reason: string): Promise<RevocationRequest> {
    const { policy, requests } = this.deps;
    if (actor.kind !== "holder" || !actor.personId) throw new CaError("forbidden", "self-service needs the holder's eID");
    if (!policy.requests.holderReasons.includes(reason as never)) throw new CaError("policy-violation", `a holder may ask for ${policy.requests.holderReasons.join(", ")}, not '${reason}'`);
    const own = await this.owner(serial).catch(() => undefined);
    if (!own || own.personId !== actor.personId) throw new CaError("not-found", `no card certificate ${serial} of yours`);
    const now = await this.holderQuota(actor, serial);
    await this.execute(serial.toLowerCase(), reason, actor);
    const r: RevocationRequest = { id: newId(this.deps.random), serial: serial.toLowerCase(), reason, organisationId: own.organisationId, channel: "holder", requestedBy: actor.personId, requestedAt: now, status: "done" };
    await requests.add(r, this.event(actor, "revocation.request", r.serial, "success", { request: r.id, reason, channel: "holder" }));
    return r;
  }

  /**
   * REQ-17: the holder lifts the suspension of another card of theirs, signed in with a valid eID;
   * counted in the same daily limit (REQ-18). A card waiting for activation stays held until it is
   * activated (REQ-16): resuming is for cards that were active when suspended.
   */
  async holderResume(actor: Actor, serial: string): Promise<RevocationRequest> {
    const { requests, orders, certs } = this.deps;
    if (actor.kind !== "holder" || !actor.personId) throw new CaError("forbidden", "self-service needs the holder's eID");
    const s = serial.toLowerCase();
    const own = await this.owner(s).catch(() => undefined);
    if (!own || own.personId !== actor.personId) throw new CaError("not-found", `no card certificate ${serial} of yours`);
    const order = await orders.byCertificate(s);
    if (order && order.state !== "ACTIVE") throw new CaError("policy-violation", "a card that was never activated is released only by its activation (REQ-16)", { requirement: "REQ-16" });
    const st = await certs.status(s);
    if (st?.status !== "on-hold") throw new CaError("conflict", `card certificate ${serial} is ${st?.status ?? "unknown"}, not suspended`);
    const now = await this.holderQuota(actor, s);
    await certs.resume(s, actorId(actor));
    const r: RevocationRequest = { id: newId(this.deps.random), serial: s, reason: "resume", organisationId: own.organisationId, channel: "holder", requestedBy: actor.personId, requestedAt: now, status: "done" };
    await requests.add(r, this.event(actor, "revocation.request.resume", s, "success", { request: r.id, channel: "holder" }));
    return r;
  }

  /** An officer revokes or suspends a card of their organisation; beyond the hourly threshold a second officer must approve (REQ-18). */
  async officerRequest(actor: Actor, serial: string, reason: string): Promise<RevocationRequest> {
    const { policy, clock, requests } = this.deps;
    requireRole(actor, ["ra-officer", "ra-admin"], "revoking a card");
    if (!policy.requests.officerReasons.includes(reason as never)) throw new CaError("policy-violation", `an officer may use ${policy.requests.officerReasons.join(", ")}, not '${reason}'`);
    const own = await this.owner(serial);
    requireScope(actor, own.organisationId);
    const now = clock.now();
    const recent = await requests.countSince(actor.personId!, "officer", new Date(now.getTime() - HOUR));
    const held = recent >= policy.requests.officerPerHour;
    const r: RevocationRequest = {
      id: newId(this.deps.random), serial: serial.toLowerCase(), reason, organisationId: own.organisationId, channel: "officer",
      requestedBy: actor.personId!, requestedAt: now, status: held ? "pending" : "done",
    };
    if (held) {
      await requests.alarm(this.event(actor, "revocation.alarm.mass", r.serial, "failure", { limit: policy.requests.officerPerHour, window: "1h", request: r.id }));
      await requests.add(r, this.event(actor, "revocation.request.held", r.serial, "success", { request: r.id, reason, needs: "a second officer's approval (REQ-18)" }));
      return r;
    }
    await this.execute(r.serial, reason, actor);
    await requests.add(r, this.event(actor, "revocation.request", r.serial, "success", { request: r.id, reason, channel: "officer" }));
    return r;
  }

  /** REQ-18: a second officer of the same organisation approves (or refuses) a held request. */
  async decide(actor: Actor, id: string, approve: boolean): Promise<RevocationRequest> {
    const { requests, clock } = this.deps;
    requireRole(actor, ["ra-officer", "ra-admin"], "deciding a revocation request");
    const r = await requests.get(id);
    if (!r) throw new CaError("not-found", `no revocation request ${id}`);
    requireScope(actor, r.organisationId);
    if (r.status !== "pending") throw new CaError("conflict", `request ${id} is ${r.status}`);
    if (r.requestedBy === actor.personId) throw new CaError("policy-violation", "a second, different officer must approve (REQ-18)");
    const now = clock.now();
    const ok = await requests.decide(id, approve ? "approved" : "refused", actor.personId!, now, this.event(actor, approve ? "revocation.request.approve" : "revocation.request.refuse", r.serial, "success", { request: id, requestedBy: r.requestedBy }));
    if (!ok) throw new CaError("conflict", `request ${id} was decided meanwhile`);
    if (approve) await this.execute(r.serial, r.reason, actor);
    return { ...r, status: approve ? "approved" : "refused", decidedBy: actor.personId!, decidedAt: now };
  }

  /** A card certificate of the officer's organisation: its status and whose it is (the portal's search). */
  async lookup(actor: Actor, serial: string): Promise<{ serial: string; status: string; notAfter: Date; organisationId: string; holderPersonId: string }> {
    requireRole(actor, ["ra-officer", "ra-admin", "auditor"], "looking up a certificate");
    const own = await this.owner(serial);
    requireScope(actor, own.organisationId);
    const st = await this.deps.certs.status(serial.toLowerCase());
    if (!st) throw new CaError("not-found", `no card certificate ${serial}`);
    return { serial: st.serial, status: st.status, notAfter: st.notAfter, organisationId: own.organisationId, holderPersonId: own.personId };
  }

  /** An officer lifts a suspension (the holder cannot: their card is on hold). */
  async resume(actor: Actor, serial: string): Promise<void> {
    requireRole(actor, ["ra-officer", "ra-admin"], "resuming a card");
    requireScope(actor, (await this.owner(serial)).organisationId);
    await this.deps.certs.resume(serial.toLowerCase(), actorId(actor));
  }

  async pending(actor: Actor, organisationId: string | undefined): Promise<RevocationRequest[]> {
    requireRole(actor, ["ra-officer", "ra-admin"], "listing revocation requests");
    if (organisationId) requireScope(actor, organisationId);
    return this.deps.requests.pending(organisationId ?? (actor.serviceOwnerStaff ? undefined : actor.organisationId), 200);
  }
}
