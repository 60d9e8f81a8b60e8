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
import { humanIdOf, isHuman } from "./human.js";

export interface RevocationRequest {
  readonly id: string;
  /**
   * revoke: a revocation or suspension; resume: lifting a hold; unbind: removing a person's binding (which revokes
   * their cards).
   */
  readonly kind: "revoke" | "resume" | "unbind";
  /** The certificate ("" for an unbinding of a person without live certificates). */
  readonly serial: string;
  readonly reason: string;
  readonly organisationId: string;
  readonly channel: "holder" | "officer";
  readonly requestedBy: string;
  /** The requesting human (REQ-10): thresholds count humans, and the second officer is another human. */
  readonly requestedByHuman?: string;
  /** unbind: the person whose binding goes. */
  readonly personId?: string;
  readonly requestedAt: Date;
  readonly status: "done" | "pending" | "approved" | "refused";
  readonly decidedBy?: string;
  readonly decidedAt?: Date;
}

/** Store port for revocation requests (the count of recent ones is the rate limit, REQ-18). */
export interface RevocationRequestStore {
  /** Revocations and unbindings (not resumes) since `since`, of one human or of one organisation, on one channel. */
  countSince(
    who: { readonly human: string } | { readonly organisationId: string },
    channel: RevocationRequest["channel"],
    since: Date,
  ): Promise<number>;
  add(r: RevocationRequest, audit: AuditEvent): Promise<void>;
  /** Several requests (one unbinding revokes several certificates) in one transaction with one audit event. */
  addAll(rs: readonly RevocationRequest[], audit: AuditEvent): Promise<void>;
  get(id: string): Promise<RevocationRequest | undefined>;
  /** The latest executed hold (certificateHold) of a certificate, if any. */
  lastHold(serial: string): Promise<RevocationRequest | undefined>;
  /** Compare-and-set from pending; false when someone else decided first. */
  decide(id: string, status: "approved" | "refused", by: string, at: Date, audit: AuditEvent): Promise<boolean>;
  pending(organisationId: string | undefined, limit: number): Promise<RevocationRequest[]>;
  /** An audit event on its own (alarms, refusals). */
  alarm(audit: AuditEvent): Promise<void>;
}

const HOUR = 3_600_000;
const second = (rule: string, m: string, code: string) =>
  new CaError("policy-violation", `${m} (${rule}, REQ-18)`, { rule, requirement: "REQ-18" }, { code });

/**
 * Suspension and revocation on request (REQ-17, REQ-18): the holder for their own cards,
 * rate-limited; officers within their organisation, with a second officer's approval beyond the
 * policy's hourly thresholds per human and per organisation (unbinding a person counts: it revokes
 * their cards); a hold the holder asked for is lifted only by the holder or with a second officer;
 * every request and every alarm in the audit trail.
 */
export class RevocationDesk {
  constructor(
    private readonly deps: {
      requests: RevocationRequestStore;
      orders: OrderStore;
      directory: DirectoryStore;
      certs: CardCertificates;
      policy: RevocationPolicy;
      clock: Clock;
      random: Random;
    },
  ) {}

  private event(
    actor: Actor,
    action: string,
    objectId: string,
    outcome: "success" | "failure",
    details: Record<string, unknown>,
    organisationId?: string,
  ): AuditEvent {
    return {
      id: newId(this.deps.random),
      at: this.deps.clock.now(),
      actor: actorId(actor),
      action,
      objectType: "certificate",
      objectId,
      outcome,
      details,
      ...(organisationId ? { organisationId } : {}),
    };
  }

  /** The organisation a card or officer certificate belongs to, and its holder. */
  private async owner(serial: string): Promise<{ organisationId: string; personId: string; humanId?: string }> {
    const s = serial.toLowerCase();
    const order = await this.deps.orders.byCertificate(s);
    if (order)
      return {
        organisationId: order.organisationId,
        personId: order.applicantPersonId,
        ...(order.applicantHumanId ? { humanId: order.applicantHumanId } : {}),
      };
    const personId = await this.deps.directory.credentialOwner(s);
    const person = personId ? await this.deps.directory.person(personId) : undefined;
    if (person)
      return { organisationId: person.organisationId, personId: person.id, humanId: humanIdOf(person.nationalIdHash) };
    throw new CaError("not-found", `no card certificate ${s}`, undefined, { code: "certificate.not-found" });
  }

  private async execute(
    r: Pick<RevocationRequest, "kind" | "serial" | "reason" | "personId">,
    actor: Actor,
  ): Promise<string[]> {
    if (r.kind === "unbind") return this.unbindNow(actor, r.personId!);
    if (r.kind === "resume") await this.deps.certs.resume(r.serial, actorId(actor));
    else if (r.reason === "certificateHold") await this.deps.certs.suspend(r.serial, actorId(actor));
    else await this.deps.certs.revoke(r.serial, r.reason, actorId(actor));
    return [r.serial];
  }

  private request(
    actor: Actor,
    r: Pick<RevocationRequest, "kind" | "serial" | "reason" | "organisationId" | "channel" | "status"> & {
      personId?: string;
    },
  ): RevocationRequest {
    return {
      id: newId(this.deps.random),
      ...r,
      requestedBy: actor.personId!,
      requestedByHuman: actor.humanId ?? `person:${actor.personId}`,
      requestedAt: this.deps.clock.now(),
      ...(r.personId ? { personId: r.personId } : {}),
    };
  }

  /**
   * REQ-18: would `n` more revocations by this officer pass the per-human or the per-organisation
   * threshold of the last hour? Each breach raises an alarm in the audit trail (and so in /metrics).
   */
  private async breaches(
    actor: Actor,
    organisationId: string,
    n: number,
    objectId: string,
    request: string,
  ): Promise<boolean> {
    const { policy, clock, requests } = this.deps;
    const since = new Date(clock.now().getTime() - HOUR);
    const human = actor.humanId ?? `person:${actor.personId}`;
    const mine = await requests.countSince({ human }, "officer", since);
    const org = await requests.countSince({ organisationId }, "officer", since);
    let breached = false;
    if (mine + n > policy.requests.officerPerHour) {
      breached = true;
      await requests.alarm(
        this.event(
          actor,
          "revocation.alarm.mass",
          objectId,
          "failure",
          { limit: policy.requests.officerPerHour, window: "1h", counted: mine, scope: "officer", request },
          organisationId,
        ),
      );
    }
    if (org + n > policy.requests.organisationPerHour) {
      breached = true;
      await requests.alarm(
        this.event(
          actor,
          "revocation.alarm.organisation",
          objectId,
          "failure",
          {
            limit: policy.requests.organisationPerHour,
            window: "1h",
            counted: org,
            scope: "organisation",
            organisationId,
            request,
          },
          organisationId,
        ),
      );
    }
    return breached;
  }

  /**
   * REQ-18: a holder's self-service requests per day (per human); beyond the policy's number refused, with an alarm.
   */
  private async holderQuota(actor: Actor, serial: string, organisationId: string): Promise<void> {
    const { policy, clock, requests } = this.deps;
    const now = clock.now();
    if (
      (await requests.countSince(
        { human: actor.humanId ?? `person:${actor.personId}` },
        "holder",
        new Date(now.getTime() - 24 * HOUR),
      )) >= policy.requests.holderPerDay
    ) {
      await requests.alarm(
        this.event(
          actor,
          "revocation.alarm.holder-rate",
          serial,
          "failure",
          { limit: policy.requests.holderPerDay, window: "24h" },
          organisationId,
        ),
      );
      throw new CaError(
        "rate-limited",
        `at most ${policy.requests.holderPerDay} self-service requests per day; call the service desk (REQ-18)`,
        { retryAfterSeconds: 3600, rule: "holder-rate", requirement: "REQ-18" },
        { code: "revocation.holder-rate", params: { limit: policy.requests.holderPerDay } },
      );
    }
  }

  /** REQ-17: the holder suspends or revokes their own card, authenticated with an eID; REQ-18: rate-limited. */
  async holderRequest(actor: Actor, serial: string, reason: string): Promise<RevocationRequest> {
    const { policy, requests } = this.deps;
    if (actor.kind !== "holder" || !actor.personId)
      throw new CaError("forbidden", "self-service needs the holder's eID", undefined, { code: "holder.eid-needed" });
    if (!policy.requests.holderReasons.includes(reason as never))
      throw new CaError(
        "policy-violation",
        `a holder may ask for ${policy.requests.holderReasons.join(", ")}, not '${reason}'`,
        undefined,
        { code: "revocation.holder-reason", params: { reason, reasons: policy.requests.holderReasons } },
      );
    const own = await this.owner(serial).catch(() => undefined);
    if (!own || !this.holds(actor, own))
      throw new CaError("not-found", `no card certificate ${serial} of yours`, undefined, {
        code: "certificate.not-yours",
      });
    await this.holderQuota(actor, serial, own.organisationId);
    const r = this.request(actor, {
      kind: "revoke",
      serial: serial.toLowerCase(),
      reason,
      organisationId: own.organisationId,
      channel: "holder",
      status: "done",
    });
    await this.execute(r, actor);
    await requests.add(
      r,
      this.event(
        actor,
        "revocation.request",
        r.serial,
        "success",
        { request: r.id, reason, channel: "holder" },
        own.organisationId,
      ),
    );
    return r;
  }

  /** The actor is the holder of the card: the same human (another of their eIDs), or the same person record. */
  private holds(actor: Actor, own: { personId: string; humanId?: string }): boolean {
    return actor.personId === own.personId || isHuman(actor, own.humanId);
  }

  /**
   * An officer revokes or suspends a card of their organisation; beyond the hourly thresholds a second officer must
   * approve (REQ-18).
   */
  async officerRequest(actor: Actor, serial: string, reason: string): Promise<RevocationRequest> {
    const { policy, requests } = this.deps;
    requireRole(actor, ["ra-officer", "ra-admin"], "revoking a card");
    if (!policy.requests.officerReasons.includes(reason as never))
      throw new CaError(
        "policy-violation",
        `an officer may use ${policy.requests.officerReasons.join(", ")}, not '${reason}'`,
        undefined,
        { code: "revocation.officer-reason", params: { reason, reasons: policy.requests.officerReasons } },
      );
    const own = await this.owner(serial);
    requireScope(actor, own.organisationId);
    const draft = this.request(actor, {
      kind: "revoke",
      serial: serial.toLowerCase(),
      reason,
      organisationId: own.organisationId,
      channel: "officer",
      status: "done",
    });
    if (await this.breaches(actor, own.organisationId, 1, draft.serial, draft.id)) {
      const r = { ...draft, status: "pending" as const };
      await requests.add(
        r,
        this.event(
          actor,
          "revocation.request.held",
          r.serial,
          "success",
          { request: r.id, reason, needs: "a second officer's approval (REQ-18)" },
          own.organisationId,
        ),
      );
      return r;
    }
    await this.execute(draft, actor);
    await requests.add(
      draft,
      this.event(
        actor,
        "revocation.request",
        draft.serial,
        "success",
        { request: draft.id, reason, channel: "officer" },
        own.organisationId,
      ),
    );
    return draft;
  }

  /**
   * REQ-21 with REQ-18: removing a person's binding revokes their live certificates, so it counts
   * towards the thresholds (one per certificate, at least one); beyond them it waits for a second officer.
   */
  async unbind(actor: Actor, personId: string): Promise<{ revoked: string[] } | { pending: RevocationRequest }> {
    const { requests, directory, orders } = this.deps;
    requireRole(actor, ["ra-admin", "service-owner-staff"], "removing a person's binding");
    const p = await directory.person(personId);
    if (!p) throw new CaError("not-found", `no person ${personId}`, undefined, { code: "person.not-found" });
    requireScope(actor, p.organisationId);
    if (p.unboundAt)
      throw new CaError("conflict", "the binding was removed already", undefined, { code: "person.unbound-already" });
    const live = await orders.liveCertificatesOf(personId);
    const draft = this.request(actor, {
      kind: "unbind",
      serial: live[0] ?? "",
      reason: "affiliationChanged",
      organisationId: p.organisationId,
      channel: "officer",
      status: "done",
      personId,
    });
    if (await this.breaches(actor, p.organisationId, Math.max(1, live.length), personId, draft.id)) {
      const r = { ...draft, status: "pending" as const };
      await requests.add(r, {
        ...this.event(
          actor,
          "revocation.unbind.held",
          personId,
          "success",
          { request: r.id, certificates: live.length, needs: "a second officer's approval (REQ-18)" },
          p.organisationId,
        ),
        objectType: "person",
      });
      return { pending: r };
    }
    const revoked = await this.unbindNow(actor, personId);
    await this.recordUnbind(actor, draft, revoked);
    return { revoked };
  }

  /** Counts an executed unbinding: one request per revoked certificate (at least one). */
  private async recordUnbind(actor: Actor, draft: RevocationRequest, revoked: readonly string[]): Promise<void> {
    const rows = (revoked.length ? revoked : [""]).map((serial, i) => ({
      ...draft,
      id: i === 0 ? draft.id : newId(this.deps.random),
      serial,
    }));
    await this.deps.requests.addAll(rows, {
      ...this.event(
        actor,
        "revocation.unbind",
        draft.personId!,
        "success",
        { request: draft.id, revoked },
        draft.organisationId,
      ),
      objectType: "person",
    });
  }

  private async unbindNow(actor: Actor, personId: string): Promise<string[]> {
    const { directory, orders, certs, clock } = this.deps;
    await directory.unbindPerson(personId, actor.personId!, clock.now(), {
      ...this.event(actor, "person.unbind", personId, "success", {}),
      objectType: "person",
    });
    const serials = await orders.liveCertificatesOf(personId);
    for (const s of serials) await certs.revoke(s, "affiliationChanged", actorId(actor));
    return serials;
  }

  /** REQ-18: a second officer of the same organisation, another human, approves (or refuses) a held request. */
  async decide(actor: Actor, id: string, approve: boolean): Promise<RevocationRequest> {
    const { requests, clock, directory } = this.deps;
    requireRole(actor, ["ra-officer", "ra-admin"], "deciding a revocation request");
    const r = await requests.get(id);
    if (!r)
      throw new CaError("not-found", `no revocation request ${id}`, undefined, {
        code: "revocation.request-not-found",
      });
    requireScope(actor, r.organisationId);
    if (r.status !== "pending")
      throw new CaError("conflict", `request ${id} is ${r.status}`, undefined, {
        code: "revocation.request-decided",
        params: { status: r.status },
      });
    const requester =
      r.requestedByHuman ??
      (await directory.person(r.requestedBy).then((p) => (p ? humanIdOf(p.nationalIdHash) : undefined)));
    if (r.requestedBy === actor.personId || isHuman(actor, requester))
      throw second(
        "second-officer",
        "a second, different officer (another human) must approve",
        "revocation.second-officer",
      );
    if (
      r.kind === "unbind" &&
      (r.personId === actor.personId ||
        isHuman(actor, await directory.person(r.personId!).then((p) => (p ? humanIdOf(p.nationalIdHash) : undefined))))
    )
      throw second(
        "second-officer",
        "the person being unbound may not approve their own unbinding",
        "revocation.own-unbinding",
      );
    if (r.kind === "unbind" && approve)
      requireRole(actor, ["ra-admin", "service-owner-staff"], "approving an unbinding");
    const now = clock.now();
    const action = approve
      ? r.kind === "revoke"
        ? "revocation.request.approve"
        : `revocation.${r.kind}.approve`
      : r.kind === "revoke"
        ? "revocation.request.refuse"
        : `revocation.${r.kind}.refuse`;
    const ok = await requests.decide(
      id,
      approve ? "approved" : "refused",
      actor.personId!,
      now,
      this.event(
        actor,
        action,
        r.kind === "unbind" ? r.personId! : r.serial,
        "success",
        { request: id, requestedBy: r.requestedBy },
        r.organisationId,
      ),
    );
    if (!ok)
      throw new CaError("conflict", `request ${id} was decided meanwhile`, undefined, {
        code: "revocation.request-decided-meanwhile",
      });
    if (approve) await this.execute(r, actor);
    return { ...r, status: approve ? "approved" : "refused", decidedBy: actor.personId!, decidedAt: now };
  }

  /** A card certificate of the officer's organisation: its status and whose it is (the portal's search). */
  async lookup(
    actor: Actor,
    serial: string,
  ): Promise<{ serial: string; status: string; notAfter: Date; organisationId: string; holderPersonId: string }> {
    requireRole(actor, ["ra-officer", "ra-admin", "auditor"], "looking up a certificate");
    const own = await this.owner(serial);
    requireScope(actor, own.organisationId);
    const st = await this.deps.certs.status(serial.toLowerCase());
    if (!st)
      throw new CaError("not-found", `no card certificate ${serial}`, undefined, { code: "certificate.not-found" });
    return {
      serial: st.serial,
      status: st.status,
      notAfter: st.notAfter,
      organisationId: own.organisationId,
      holderPersonId: own.personId,
    };
  }

  /**
   * REQ-18: an officer lifts a suspension. A hold the holder asked for is not lifted by one officer
   * alone: the request waits for a second officer (another human), or the holder lifts it.
   */
  async resume(
    actor: Actor,
    serial: string,
  ): Promise<{ serial: string; status: "good" } | { serial: string; status: "on-hold"; pending: RevocationRequest }> {
    const { requests } = this.deps;
    requireRole(actor, ["ra-officer", "ra-admin"], "resuming a card");
    const s = serial.toLowerCase();
    const own = await this.owner(s);
    requireScope(actor, own.organisationId);
    const hold = await requests.lastHold(s);
    const r = this.request(actor, {
      kind: "resume",
      serial: s,
      reason: "resume",
      organisationId: own.organisationId,
      channel: "officer",
      status: "done",
    });
    if (hold?.channel === "holder") {
      const held = { ...r, status: "pending" as const };
      await requests.add(
        held,
        this.event(
          actor,
          "revocation.resume.held",
          s,
          "success",
          {
            request: held.id,
            hold: hold.id,
            needs: "the holder, or a second officer's approval (holder-hold, REQ-18)",
          },
          own.organisationId,
        ),
      );
      return { serial: s, status: "on-hold", pending: held };
    }
    await this.execute(r, actor);
    await requests.add(
      r,
      this.event(actor, "revocation.resume", s, "success", { request: r.id, channel: "officer" }, own.organisationId),
    );
    return { serial: s, status: "good" };
  }

  /**
   * REQ-17/18: the holder lifts the suspension of a card of theirs, signed in with another valid
   * eID (of any of their bindings: the same human); counted in the same daily limit. A card waiting
   * for activation stays held until it is activated (REQ-16): resuming is for cards that were
   * active when suspended.
   */
  async holderResume(actor: Actor, serial: string): Promise<RevocationRequest> {
    const { requests, orders, certs } = this.deps;
    if (actor.kind !== "holder" || !actor.personId)
      throw new CaError("forbidden", "self-service needs the holder's eID", undefined, { code: "holder.eid-needed" });
    const s = serial.toLowerCase();
    const own = await this.owner(s).catch(() => undefined);
    if (!own || !this.holds(actor, own))
      throw new CaError("not-found", `no card certificate ${serial} of yours`, undefined, {
        code: "certificate.not-yours",
      });
    const order = await orders.byCertificate(s);
    if (order && order.state !== "ACTIVE")
      throw new CaError(
        "policy-violation",
        "a card that was never activated is released only by its activation (REQ-16)",
        { requirement: "REQ-16" },
        { code: "holder.resume-never-activated" },
      );
    const st = await certs.status(s);
    if (st?.status !== "on-hold")
      throw new CaError(
        "conflict",
        `card certificate ${serial} is ${st?.status ?? "unknown"}, not suspended`,
        undefined,
        { code: "holder.resume-not-suspended", params: { status: st?.status ?? "unknown" } },
      );
    await this.holderQuota(actor, s, own.organisationId);
    const r = this.request(actor, {
      kind: "resume",
      serial: s,
      reason: "resume",
      organisationId: own.organisationId,
      channel: "holder",
      status: "done",
    });
    await this.execute(r, actor);
    await requests.add(
      r,
      this.event(
        actor,
        "revocation.request.resume",
        s,
        "success",
        { request: r.id, channel: "holder" },
        own.organisationId,
      ),
    );
    return r;
  }

  async pending(actor: Actor, organisationId: string | undefined): Promise<RevocationRequest[]> {
    requireRole(actor, ["ra-officer", "ra-admin"], "listing revocation requests");
    if (organisationId) requireScope(actor, organisationId);
    return this.deps.requests.pending(
      organisationId ?? (actor.serviceOwnerStaff ? undefined : actor.organisationId),
      200,
    );
  }
}
