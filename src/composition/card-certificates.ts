import { CaError } from "../shared/ca-error.js";
import type { CardCertificates, CertificateStatus } from "../ra/ports.js";
import type { Authority } from "../ca/authority.js";
import type { CertificateIssuer } from "../ca/certificate-issuer.js";
import type { RevocationRegistry } from "../ca/revocation-registry.js";
import type { CertStore } from "../ca/ports.js";

/** The RA's narrow CA port over the CA core: issue from the order's profile, revoke, suspend, status. */
export function cardCertificates(rt: { issuer: CertificateIssuer; registry: RevocationRegistry; store: CertStore }, ca: () => Authority): CardCertificates {
  return {
    async issue(req) {
      const cert = await rt.issuer.issue(ca(), {
        profileId: req.profileId, publicKey: req.publicKey, subject: { ...req.subject }, san: req.email ? { email: [req.email] } : {},
        requestedBy: req.requestedBy, allowedKinds: req.profileId === "ra-officer" ? ["infrastructure"] : ["end-entity"],
        validatedEmailDomains: req.validatedEmailDomains ?? [], // REQ-01: the RA channel always states them (none: no e-mail SAN)
      });
      return { serial: cert.serial, notAfter: cert.notAfter, ...(cert.omittedEmails ? { omittedEmails: cert.omittedEmails } : {}) };
    },
    async revoke(serial, reason, actor) {
      try {
        await rt.registry.revoke({ serial, reason, actor });
      } catch (e) {
        if (!CaError.is(e, "conflict") || !/already revoked/.test(e.message)) throw e; // revoked for good already: nothing to do
      }
    },
    async suspend(serial, actor) {
      await rt.registry.suspend(serial, actor);
    },
    async resume(serial, actor) {
      await rt.registry.resume(serial, actor);
    },
    async status(serial): Promise<CertificateStatus | undefined> {
      const r = await rt.store.get(serial);
      if (!r || r.status !== "issued") return undefined;
      return {
        serial: r.serial, issuerId: r.issuerId, profileId: r.profileId, notBefore: r.notBefore, notAfter: r.notAfter, der: r.der,
        status: r.revocationReason === undefined ? "good" : r.revocationReason === "certificateHold" ? "on-hold" : "revoked",
      };
    },
  };
}
