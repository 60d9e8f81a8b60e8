import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import type { RevocationPolicy } from "../policy/revocation-policy.js";
import type { AuditEvent, CertRecord, CertStore, HoldCause, RevocationChange, RevocationStore } from "./ports.js";

/**
 * Writes a revocation change with its audit event (the store's apply, or a caller's that adds its own records to the
 * transaction).
 */
export type ApplyRevocation = (change: RevocationChange, audit: AuditEvent) => Promise<boolean>;

export interface RevokeRequest {
  readonly serial: string;
  readonly reason: string;
  /** RFC 5280 5.3.2: when the key is known or suspected to have been compromised. */
  readonly invalidityDate?: Date;
  readonly actor: string;
}

export interface RevocationState {
  readonly serial: string;
  readonly status: "good" | "revoked" | "on-hold";
  readonly revokedAt?: Date;
  readonly reason?: string;
  readonly holdCause?: HoldCause;
}

/** The cause of a hold as stored; a hold from before causes were recorded counts as one on request. */
const causeOf = (rec: Pick<CertRecord, "revocationReason" | "holdCause">): HoldCause | undefined =>
  rec.revocationReason === "certificateHold" ? (rec.holdCause ?? "request") : undefined;

/**
 * Revoke, suspend (certificateHold) and resume, by the rules of RFC 5280 5.3.1 and the policy
 * (REQ-17, REQ-19): only policy reasons; a revoked certificate can only be upgraded to
 * keyCompromise; only a held certificate can be resumed; unknown serials are an error.
 *
 * REQ-16: a card certificate is issued on hold until its holder activates the card; only the
 * activation releases that hold. A suspension on request of such a card adds to the hold, and
 * lifting the request leaves the card awaiting activation: no resume makes a card good that was
 * never activated.
 */
export class RevocationRegistry {
  constructor(
    private readonly deps: {
      certs: CertStore;
      revocations: RevocationStore;
      policy: RevocationPolicy;
      clock: Clock;
      random: Random;
    },
  ) {}

  private async certificate(serial: string): Promise<CertRecord> {
    const s = serial.toLowerCase().replace(/^0x/, "").replace(/:/g, "");
    if (!/^[0-9a-f]{2,64}$/.test(s))
      throw new CaError("invalid-input", `'${serial}' is not a hexadecimal serial number`);
    const rec = await this.deps.certs.get(s);
    if (!rec) throw new CaError("not-found", `no certificate with serial ${s}`);
    if (rec.status !== "issued")
      throw new CaError(
        "conflict",
        `serial ${s} is ${rec.status}: nothing to change (unfinished serials are revoked already)`,
      );
    return rec;
  }

  async state(serial: string): Promise<RevocationState> {
    const rec = await this.certificate(serial);
    return stateOf(rec);
  }

  async revoke(req: RevokeRequest, apply?: ApplyRevocation): Promise<RevocationState> {
    const { policy, clock } = this.deps;
    if (!policy.reasons.includes(req.reason as never))
      throw new CaError(
        "policy-violation",
        `reason '${req.reason}' is not allowed (allowed: ${policy.reasons.join(", ")})`,
      );
    const rec = await this.certificate(req.serial);
    const now = clock.now();
    if (req.invalidityDate && req.invalidityDate > now)
      throw new CaError("invalid-input", "invalidity date lies in the future");
    const current = rec.revocationReason;
    if (current !== undefined && current !== "certificateHold") {
      // RFC 5280 5.3.1 / CA practice: a revoked certificate stays revoked; only an upgrade to keyCompromise.
      if (req.reason !== "keyCompromise" || current === "keyCompromise")
        throw new CaError(
          "conflict",
          `serial ${rec.serial} is already revoked (${current}); only a change to keyCompromise is allowed`,
        );
    }
    const cause = causeOf(rec);
    if (req.reason === "certificateHold") {
      if (cause === "activation")
        // REQ-16: the request adds to the hold; the card still awaits activation.
        return this.change(
          rec,
          {
            kind: "hold",
            revokedAt: rec.revokedAt!,
            reason: "certificateHold",
            invalidityDate: undefined,
            actor: req.actor,
            holdCause: "activation+request",
          },
          apply,
        );
      if (cause !== undefined) throw new CaError("conflict", `serial ${rec.serial} is already on hold`);
      return this.change(
        rec,
        {
          kind: "hold",
          revokedAt: now,
          reason: "certificateHold",
          invalidityDate: undefined,
          actor: req.actor,
          holdCause: "request",
        },
        apply,
      );
    }
    // The revocation date of an upgraded entry stays the original one (RFC 5280 5.1.2.6 "the date on which the
    // revocation occurred").
    const revokedAt = current !== undefined && current !== "certificateHold" ? rec.revokedAt! : now;
    return this.change(
      rec,
      {
        kind: "revoke",
        revokedAt,
        reason: req.reason,
        invalidityDate: req.invalidityDate,
        actor: req.actor,
        holdCause: null,
      },
      apply,
    );
  }

  async suspend(serial: string, actor: string, apply?: ApplyRevocation): Promise<RevocationState> {
    return this.revoke({ serial, reason: "certificateHold", actor }, apply);
  }

  /** Lifts a hold placed on request; a card that still awaits activation stays on hold for that (REQ-16). */
  async resume(serial: string, actor: string, apply?: ApplyRevocation): Promise<RevocationState> {
    const rec = await this.certificate(serial);
    const cause = causeOf(rec);
    if (cause === undefined)
      throw new CaError(
        "conflict",
        `serial ${rec.serial} is not on hold (${rec.revocationReason ?? "good"}); ` +
          `only a held certificate can be resumed`,
      );
    if (cause === "activation")
      throw new CaError(
        "policy-violation",
        `serial ${rec.serial} is on hold until its holder activates the card; only the activation releases it (REQ-16)`,
        { requirement: "REQ-16" },
      );
    if (cause === "activation+request")
      return this.change(
        rec,
        {
          kind: "hold",
          revokedAt: rec.revokedAt!,
          reason: "certificateHold",
          invalidityDate: undefined,
          actor,
          holdCause: "activation",
        },
        apply,
      );
    return this.change(
      rec,
      { kind: "resume", revokedAt: undefined, reason: undefined, invalidityDate: undefined, actor, holdCause: null },
      apply,
    );
  }

  /** REQ-16: the holder's activation releases the hold placed at issuance (and nothing else does). */
  async release(serial: string, actor: string, apply?: ApplyRevocation): Promise<RevocationState> {
    const rec = await this.certificate(serial);
    const cause = causeOf(rec);
    if (cause !== "activation")
      throw new CaError(
        "conflict",
        cause === "activation+request"
          ? `serial ${rec.serial} is also suspended on request; an officer lifts that first`
          : `serial ${rec.serial} is not awaiting activation (${rec.revocationReason ?? "good"})`,
      );
    return this.change(
      rec,
      { kind: "resume", revokedAt: undefined, reason: undefined, invalidityDate: undefined, actor, holdCause: null },
      apply,
    );
  }

  /**
   * The hold a card certificate is born with (REQ-16): the change and its audit event, to be
   * written in the same transaction that stores the signed certificate, so it is never good.
   */
  issuanceHold(serial: string, issuerId: string, actor: string): { change: RevocationChange; audit: AuditEvent } {
    const { clock, random } = this.deps;
    const at = clock.now();
    return {
      change: {
        serial,
        issuerId,
        kind: "hold",
        revokedAt: at,
        reason: "certificateHold",
        invalidityDate: undefined,
        at,
        actor,
        expectedReason: undefined,
        holdCause: "activation",
        expectedHoldCause: null,
      },
      audit: {
        id: newId(random),
        at,
        actor,
        action: "cert.hold",
        objectType: "certificate",
        objectId: serial,
        outcome: "success",
        details: {
          issuer: issuerId,
          reason: "certificateHold",
          cause: "activation",
          previous: "issued",
          why: "on hold until the holder activates the card (REQ-16)",
        },
      },
    };
  }

  private async change(
    rec: CertRecord,
    c: Pick<RevocationChange, "kind" | "revokedAt" | "reason" | "invalidityDate" | "actor" | "holdCause">,
    apply?: ApplyRevocation,
  ): Promise<RevocationState> {
    const { clock, random, revocations } = this.deps;
    const at = clock.now();
    const expectedReason = rec.revocationReason;
    const expectedHoldCause = rec.revocationReason === "certificateHold" ? (rec.holdCause ?? null) : null;
    const ok = await (apply ?? ((ch, a) => revocations.apply(ch, a)))(
      { ...c, serial: rec.serial, issuerId: rec.issuerId, at, expectedReason, expectedHoldCause },
      {
        id: newId(random),
        at,
        actor: c.actor,
        action: `cert.${c.kind}`,
        objectType: "certificate",
        objectId: rec.serial,
        outcome: "success",
        details: {
          issuer: rec.issuerId,
          reason: c.reason,
          invalidityDate: c.invalidityDate?.toISOString(),
          previous: expectedReason ?? "good",
          ...(c.holdCause || expectedHoldCause ? { cause: c.holdCause ?? null, previousCause: expectedHoldCause } : {}),
        },
      },
    );
    if (!ok) throw new CaError("conflict", `serial ${rec.serial} changed while this request ran; read it again`);
    return stateOf({ ...rec, revokedAt: c.revokedAt, revocationReason: c.reason, holdCause: c.holdCause ?? undefined });
  }
}

function stateOf(rec: Pick<CertRecord, "serial" | "revokedAt" | "revocationReason" | "holdCause">): RevocationState {
  if (rec.revocationReason === undefined) return { serial: rec.serial, status: "good" };
  if (rec.revocationReason !== "certificateHold")
    return { serial: rec.serial, status: "revoked", revokedAt: rec.revokedAt!, reason: rec.revocationReason };
  return {
    serial: rec.serial,
    status: "on-hold",
    revokedAt: rec.revokedAt!,
    reason: rec.revocationReason,
    holdCause: causeOf(rec)!,
  };
}
