import { createHash } from "node:crypto";

import { CaError } from "../../shared/ca-error.js";
import type { RevocationPolicy } from "../../policy/revocation-policy.js";
import type { Authority } from "../authority.js";
import type { KeySigner, SerialStatus, StoredOcspResponse } from "../ports.js";
import { spkiParts } from "../spki.js";
import type { CertIdRequest } from "./ocsp-request.js";
import { certIdDer, responseData, singleResponse, successfulResponse, type CertStatus } from "./ocsp-response.js";

/** A CA this responder answers for, with its delegated responder (RFC 6960 4.2.2.2). */
export interface OcspIssuer {
  readonly ca: Authority;
  readonly responder: {
    readonly signer: KeySigner;
    readonly certDer: Uint8Array;
    readonly notAfter: Date;
    readonly label: string;
  };
}

export interface SignedOcsp {
  readonly der: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
}

export const HASHES: Record<string, string> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};
/** RFC 5019 2.1.1: clients use SHA-1 CertIDs; those are the ones pre-produced. */
export const SHA1 = "1.3.14.3.2.26";

const issuerHashCache = new WeakMap<OcspIssuer, Map<string, { name: string; key: string }>>();
/** issuerNameHash / issuerKeyHash of an issuer per hash OID (RFC 6960 4.1.1), computed once. */
export function issuerHashes(issuer: OcspIssuer): Map<string, { name: string; key: string }> {
  let m = issuerHashCache.get(issuer);
  if (!m) {
    m = new Map();
    const keyBits = spkiParts(issuer.ca.signer.spki).bits;
    for (const [oid, alg] of Object.entries(HASHES))
      m.set(oid, {
        name: createHash(alg).update(issuer.ca.nameDer).digest("hex"),
        key: createHash(alg).update(keyBits).digest("hex"),
      });
    issuerHashCache.set(issuer, m);
  }
  return m;
}

/** The SHA-1 CertID request of one serial of an issuer (what the producer signs for). */
export function sha1Request(issuer: OcspIssuer, serial: string): CertIdRequest {
  const h = issuerHashes(issuer).get(SHA1)!;
  return { hashOid: SHA1, serial, issuerNameHash: h.name, issuerKeyHash: h.key };
}

export function statusFor(issuer: OcspIssuer, s: SerialStatus | undefined): CertStatus {
  // Design: never "good" for a serial this CA did not issue.
  if (!s || s.issuerId !== issuer.ca.id) return { kind: "unknown" };
  if (s.status === "issued")
    return s.revokedAt ? { kind: "revoked", revokedAt: s.revokedAt, reason: s.reason } : { kind: "good" };
  if (s.status === "unfinished") return { kind: "revoked", revokedAt: s.revokedAt ?? new Date(0), reason: s.reason };
  return { kind: "unknown" };
}

/** Same status, reason and time: a stored response still says what the database says. */
export function sameStatus(
  a: CertStatus,
  stored: Pick<StoredOcspResponse, "status" | "revokedAt" | "reason">,
): boolean {
  if (a.kind !== stored.status) return false;
  if (a.kind !== "revoked") return true;
  return a.revokedAt.getTime() === stored.revokedAt?.getTime() && (a.reason ?? undefined) === stored.reason;
}

const keyHashes = new WeakMap<OcspIssuer, Uint8Array>();
/** ResponderID byKey: SHA-1 of the responder's public key BIT STRING value (RFC 6960 4.2.2.3). */
function responderKeyHash(issuer: OcspIssuer): Uint8Array {
  let h = keyHashes.get(issuer);
  if (!h)
    keyHashes.set(
      issuer,
      (h = new Uint8Array(createHash("sha1").update(spkiParts(issuer.responder.signer.spki).bits).digest())),
    );
  return h;
}

/** Signs one BasicOCSPResponse for these CertIDs (RFC 6960 4.2.1), optionally echoing a nonce (RFC 8954). */
export async function signOcsp(
  issuer: OcspIssuer,
  reqs: readonly CertIdRequest[],
  statuses: readonly CertStatus[],
  nonce: Uint8Array | undefined,
  now: Date,
  policy: RevocationPolicy,
): Promise<SignedOcsp> {
  const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
  // The responder certificate must outlive every response it signs.
  const nextUpdate = new Date(
    Math.min(thisUpdate.getTime() + policy.ocsp.validityHours * 3_600_000, issuer.responder.notAfter.getTime()),
  );
  if (nextUpdate <= thisUpdate)
    throw new CaError("unavailable", `OCSP responder certificate of ${issuer.ca.id} has expired: rotate it`);
  const singles = reqs.map((r, i) => singleResponse(certIdDer(r), statuses[i]!, thisUpdate, nextUpdate));
  const tbs = responseData(responderKeyHash(issuer), thisUpdate, singles, nonce);
  const sig = await issuer.responder.signer.sign(tbs);
  const der = successfulResponse(tbs, issuer.responder.signer.algorithmDer, sig, issuer.responder.certDer);
  return { der, thisUpdate, nextUpdate };
}

/**
 * When a response is re-signed: at 75-100 % of refreshMinutes after thisUpdate, the fraction drawn
 * from the serial, so responses signed together drift apart cycle after cycle (no hourly wave).
 */
export function refreshAtFor(serial: string, signed: SignedOcsp, policy: RevocationPolicy): Date {
  const frac = parseInt(serial.slice(-4) || "0", 16) / 0x10000;
  const at = signed.thisUpdate.getTime() + policy.ocsp.refreshMinutes * 60_000 * (0.75 + 0.25 * frac);
  return new Date(Math.min(at, signed.nextUpdate.getTime() - 60_000));
}

/** The row the response store keeps for a SHA-1, nonce-free response of one serial. */
export function storedResponse(
  issuer: OcspIssuer,
  serial: string,
  status: CertStatus,
  signed: SignedOcsp,
  policy: RevocationPolicy,
): StoredOcspResponse {
  return {
    issuerId: issuer.ca.id,
    serial,
    status: status.kind,
    revokedAt: status.kind === "revoked" ? status.revokedAt : undefined,
    reason: status.kind === "revoked" ? status.reason : undefined,
    thisUpdate: signed.thisUpdate,
    nextUpdate: signed.nextUpdate,
    refreshAt: refreshAtFor(serial, signed, policy),
    der: signed.der,
  };
}
