import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import type { RevocationPolicy } from "../policy/revocation-policy.js";
import type { CertRecord, CertStore, RevocationChange, RevocationStore } from "./ports.js";

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
}

/**
 * Revoke, suspend (certificateHold) and resume, by the rules of RFC 5280 5.3.1 and the policy
 * (REQ-17, REQ-19): only policy reasons; a revoked certificate can only be upgraded to
 * keyCompromise; only a held certificate can be resumed; unknown serials are an error.
 */
export class RevocationRegistry {
  constructor(
    private readonly deps: { certs: CertStore; revocations: RevocationStore; policy: RevocationPolicy; clock: Clock; random: Random },
  ) {}

  private async certificate(serial: string): Promise<CertRecord> {
    const s = serial.toLowerCase().replace(/^0x/, "").replace(/:/g, "");
    if (!/^[0-9a-f]{2,64}$/.test(s)) throw new CaError("invalid-input", `'${serial}' is not a hexadecimal serial number`);
    const rec = await this.deps.certs.get(s);
    if (!rec) throw new CaError("not-found", `no certificate with serial ${s}`);
    if (rec.status !== "issued") throw new CaError("conflict", `serial ${s} is ${rec.status}: nothing to change (unfinished serials are revoked already)`);
    return rec;
  }

  async state(serial: string): Promise<RevocationState> {
    const rec = await this.certificate(serial);
    return stateOf(rec);
  }

  async revoke(req: RevokeRequest): Promise<RevocationState> {
    const { policy, clock } = this.deps;
    if (!policy.reasons.includes(req.reason as never))
      throw new CaError("policy-violation", `reason '${req.reason}' is not allowed (allowed: ${policy.reasons.join(", ")})`);
    const rec = await this.certificate(req.serial);
    const now = clock.now();
    if (req.invalidityDate && req.invalidityDate > now) throw new CaError("invalid-input", "invalidity date lies in the future");
    const current = rec.revocationReason;
    if (current !== undefined && current !== "certificateHold") {
      // RFC 5280 5.3.1 / CA practice: a revoked certificate stays revoked; only an upgrade to keyCompromise.
      if (req.reason !== "keyCompromise" || current === "keyCompromise")
        throw new CaError("conflict", `serial ${rec.serial} is already revoked (${current}); only a change to keyCompromise is allowed`);
    }
    if (current === "certificateHold" && req.reason === "certificateHold") throw new CaError("conflict", `serial ${rec.serial} is already on hold`);
    const kind = req.reason === "certificateHold" ? "hold" : "revoke";
    // The revocation date of an upgraded entry stays the original one (RFC 5280 5.1.2.6 "the date on which the revocation occurred").
    const revokedAt = current !== undefined && current !== "certificateHold" ? rec.revokedAt! : now;
    return this.change(rec, { kind, revokedAt, reason: req.reason, invalidityDate: req.invalidityDate, actor: req.actor }, current);
  }

  async suspend(serial: string, actor: string): Promise<RevocationState> {
    return this.revoke({ serial, reason: "certificateHold", actor });
  }

  async resume(serial: string, actor: string): Promise<RevocationState> {
    const rec = await this.certificate(serial);
    if (rec.revocationReason !== "certificateHold") throw new CaError("conflict", `serial ${rec.serial} is not on hold (${rec.revocationReason ?? "good"}); only a held certificate can be resumed`);
    return this.change(rec, { kind: "resume", revokedAt: undefined, reason: undefined, invalidityDate: undefined, actor }, "certificateHold");
  }

  private async change(rec: CertRecord, c: Pick<RevocationChange, "kind" | "revokedAt" | "reason" | "invalidityDate" | "actor">, expectedReason: string | undefined): Promise<RevocationState> {
    const { clock, random, revocations } = this.deps;
    const at = clock.now();
    const ok = await revocations.apply({ ...c, serial: rec.serial, issuerId: rec.issuerId, at, expectedReason }, {
      id: newId(random), at, actor: c.actor, action: `cert.${c.kind}`, objectType: "certificate", objectId: rec.serial, outcome: "success",
      details: { issuer: rec.issuerId, reason: c.reason, invalidityDate: c.invalidityDate?.toISOString(), previous: expectedReason ?? "good" },
    });
    if (!ok) throw new CaError("conflict", `serial ${rec.serial} changed while this request ran; read it again`);
    return stateOf({ ...rec, revokedAt: c.revokedAt, revocationReason: c.reason });
  }
}

function stateOf(rec: Pick<CertRecord, "serial" | "revokedAt" | "revocationReason">): RevocationState {
  if (rec.revocationReason === undefined) return { serial: rec.serial, status: "good" };
  return { serial: rec.serial, status: rec.revocationReason === "certificateHold" ? "on-hold" : "revoked", revokedAt: rec.revokedAt!, reason: rec.revocationReason };
}
