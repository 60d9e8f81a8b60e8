import { certificateFields } from "../asn1/certificate-fields.js";
import { CaError } from "../shared/ca-error.js";
import { newId } from "../shared/ids.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import type { CardCertificates, CertificateStatus, LinkedOrderChange } from "../ra/ports.js";
import type { OrderStore } from "../ra/order.js";
import type { Authority } from "../ca/authority.js";
import type { CertificateIssuer, IssuanceRecorder } from "../ca/certificate-issuer.js";
import type { ApplyRevocation, RevocationRegistry } from "../ca/revocation-registry.js";
import type { CertStore } from "../ca/ports.js";
import { LinkedConflict, type KnexLinkedWrites } from "../store/linked-writes.js";
import { isUniqueViolation } from "../store/database.js";

/** The order changed under a linked write: final for this attempt (no new serial is drawn for it). */
const orderChanged = () =>
  new CaError(
    "conflict",
    "the order changed while its certificate was being written; read it again",
    { final: true },
    { code: "order.changed-meanwhile" },
  );

/**
 * The RA's narrow CA port over the CA core: issue from the order's profile, revoke, suspend,
 * release, status. With a link, every record the CA writes goes in one transaction with the
 * order's change (the production saga, src/ra/production-saga.ts).
 */
export function cardCertificates(
  rt: { issuer: CertificateIssuer; registry: RevocationRegistry; store: CertStore; clock: Clock; random: Random },
  ca: () => Authority,
  linked?: { writes: KnexLinkedWrites; orders: OrderStore },
): CardCertificates {
  const writes = () => {
    if (!linked)
      throw new CaError("config", "card certificates are written together with their orders: no linked store wired");
    return linked;
  };
  /** The order's change alone (nothing for the CA to write). */
  const orderOnly = async (link: LinkedOrderChange | undefined) =>
    link ? writes().orders.apply(link.change, link.audit) : true;
  /** The registry's write with the order's change in its transaction; remembers when the order had moved on. */
  const linkedApply = (link: LinkedOrderChange | undefined, lost: { order: boolean }): ApplyRevocation | undefined =>
    link
      ? async (change, audit) => {
          const ok = await writes().writes.revocation(change, audit, link);
          if (!ok) lost.order = true;
          return ok;
        }
      : undefined;
  /** Runs a registry change; a certificate that changed meanwhile is read again (a few times). */
  const withRetry = async (
    fn: (apply: ApplyRevocation | undefined) => Promise<unknown>,
    link: LinkedOrderChange | undefined,
  ): Promise<boolean> => {
    for (let attempt = 0; ; attempt++) {
      const lost = { order: false };
      try {
        await fn(linkedApply(link, lost));
        return true;
      } catch (e) {
        if (lost.order) return false;
        if (e instanceof LinkedConflict && attempt < 3) continue;
        if (e instanceof LinkedConflict) throw new CaError("conflict", e.message);
        throw e;
      }
    }
  };
  const revoke = async (serial: string, reason: string, actor: string, link?: LinkedOrderChange): Promise<boolean> => {
    try {
      return await withRetry((apply) => rt.registry.revoke({ serial, reason, actor }, apply), link);
    } catch (e) {
      // Revoked for good already, or never completed (unfinished/failed serials are revoked or void): nothing to do but
      // the order's change.
      if (CaError.is(e, "conflict") && /already revoked|is (unfinished|failed|reserved)/.test(e.message))
        return orderOnly(link);
      throw e;
    }
  };
  return {
    async issue(req, link) {
      const authority = ca();
      let recorder: IssuanceRecorder | undefined;
      if (link) {
        const { writes: w } = writes();
        let emailSanOmitted = false;
        recorder = {
          async reserve(r, audit) {
            // the issuer's own record of what it left out
            emailSanOmitted = Number(audit.details?.emailSanOmitted ?? 0) > 0;
            let ok: boolean;
            try {
              ok = await w.reserve(r, audit, link.reserved(r.serial));
            } catch (e) {
              if (isUniqueViolation(e)) throw new CaError("conflict", `serial ${r.serial} was used before`);
              throw e;
            }
            if (!ok) throw orderChanged();
          },
          async complete(serial, der, audit) {
            const hold = req.onHoldUntilActivation
              ? rt.registry.issuanceHold(serial, authority.id, req.requestedBy)
              : undefined;
            let ok: boolean;
            try {
              ok = await w.complete(serial, der, audit, hold, link.issued(serial, { emailSanOmitted }));
            } catch (e) {
              if (e instanceof LinkedConflict) throw new CaError("conflict", e.message);
              throw e;
            }
            if (!ok) throw orderChanged();
          },
          async fail(serial, audit) {
            await w.fail(serial, audit, link.failed(serial));
          },
        };
      } else if (req.onHoldUntilActivation) {
        throw new CaError(
          "config",
          "a card certificate on hold until activation is issued together with its order (a production link)",
        );
      }
      const cert = await rt.issuer.issue(
        authority,
        {
          profileId: req.profileId,
          publicKey: req.publicKey,
          subject: { ...req.subject },
          san: { ...(req.email ? { email: [req.email] } : {}), ...req.logonNames },
          requestedBy: req.requestedBy,
          allowedKinds: req.profileId === "ra-officer" ? ["infrastructure"] : ["end-entity"],
          // REQ-01: the RA channel always states them (none: no e-mail SAN).
          validatedEmailDomains: req.validatedEmailDomains ?? [],
        },
        recorder,
      );
      return {
        serial: cert.serial,
        notAfter: cert.notAfter,
        der: cert.der,
        ...(cert.omittedEmails ? { omittedEmails: cert.omittedEmails } : {}),
      };
    },
    revoke,
    async suspend(serial, actor) {
      await rt.registry.suspend(serial, actor);
    },
    async resume(serial, actor) {
      await rt.registry.resume(serial, actor);
    },
    async release(serial, actor, link) {
      return withRetry((apply) => rt.registry.release(serial, actor, apply), link);
    },
    async abandon(serial, actor, link) {
      for (let attempt = 0; attempt < 3; attempt++) {
        const rec = await rt.store.get(serial);
        if (rec?.status === "reserved") {
          const at = rt.clock.now();
          const audit = {
            id: newId(rt.random),
            at,
            actor,
            action: "cert.abandon",
            objectType: "certificate",
            objectId: serial,
            outcome: "success" as const,
            details: {
              issuer: rec.issuerId,
              reason: "unspecified",
              why: "the production did not complete; the serial may have been signed, so it is published as revoked",
            },
          };
          try {
            return await writes().writes.abandon(serial, at, actor, audit, link);
          } catch (e) {
            if (e instanceof LinkedConflict) continue; // completed or recovered meanwhile: look again
            throw e;
          }
        }
        if (
          rec?.status === "issued" &&
          (rec.revocationReason === undefined || rec.revocationReason === "certificateHold")
        )
          return revoke(serial, "superseded", actor, link);
        return orderOnly(link); // never reserved, failed, unfinished or revoked for good already
      }
      throw new CaError("conflict", `serial ${serial} keeps changing; try again`);
    },
    async status(serial): Promise<CertificateStatus | undefined> {
      const r = await rt.store.get(serial);
      if (!r || r.status !== "issued") return undefined;
      const onHold = r.revocationReason === "certificateHold";
      return {
        serial: r.serial,
        issuerId: r.issuerId,
        profileId: r.profileId,
        notBefore: r.notBefore,
        notAfter: r.notAfter,
        der: r.der,
        spki: r.der ? certificateFields(r.der).spki : undefined,
        status: r.revocationReason === undefined ? "good" : onHold ? "on-hold" : "revoked",
        ...(onHold ? { holdCause: r.holdCause ?? "request" } : {}),
      };
    },
  };
}
