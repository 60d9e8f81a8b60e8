import { createPublicKey, verify as nodeVerify, type KeyObject } from "node:crypto";
import { sha256Hex } from "../shared/digest.js";
import type { CertificateProfile } from "../policy/certificate-profile.js";
import type { SubjectAttributes } from "../asn1/name.js";
import { subjectToString } from "../asn1/name.js";
import { assembleSigned, toHex } from "../asn1/der.js";
import { OID } from "../asn1/oids.js";
import { CaError, asCaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import type { Authority } from "./authority.js";
import type { AuditEvent, CertStore } from "./ports.js";
import { verifyCsr } from "./csr.js";
import { parseSubjectKey, type SubjectKey } from "./public-key.js";
import { buildTbs, type SubjectAltNames } from "./tbs-builder.js";
import { ALL_LINTS, assertLintsPass, runLints, type Lint } from "./lints/index.js";
import { emailWithinDomains } from "../shared/email-domain.js";

export interface IssuanceRequest {
  readonly profileId: string;
  /** Exactly one of: the subject's SPKI (DER), or a PKCS#10 CSR (PEM/DER) where the profile allows. */
  readonly publicKey?: Uint8Array;
  readonly csr?: Uint8Array | string;
  /**
   * Attributes the RA verified; the only source of the subject (CA/B BR 7.1.4.2: only verified subject information,
   * nothing copied from a CSR).
   */
  readonly subject: SubjectAttributes;
  readonly san?: SubjectAltNames;
  /** Who asked (officer id or operator); recorded with the serial. */
  readonly requestedBy: string;
  /** Which kinds of profile this caller may use (RA: end-entity; operator CLI: infrastructure; ceremony: ca). */
  readonly allowedKinds: readonly CertificateProfile["kind"][];
  readonly selfSigned?: boolean;
  /** Validity shorter than the profile's maximum (never longer). */
  readonly validityDays?: number;
  /**
   * REQ-01: the e-mail domains the subject's organisation validated (absent: none). A profile whose
   * email rule sets `outsideValidatedDomain` issues an e-mail SAN only within them (or a subdomain).
   */
  readonly validatedEmailDomains?: readonly string[];
}

export interface IssuedCertificate {
  readonly serial: string;
  readonly der: Uint8Array;
  readonly profileId: string;
  readonly issuerId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** REQ-01: e-mail SANs the profile left out because they lie outside the validated domains. */
  readonly omittedEmails?: readonly string[];
}

/**
 * Where the issuer records a serial before and after signing: the CA store by default; a caller
 * may hand in a recorder that writes the same records together with its own (the RA's production
 * saga links serial and order in one transaction). The pipeline and its order stay the issuer's.
 */
export type IssuanceRecorder = Pick<CertStore, "reserve" | "complete" | "fail">;

export interface IssuerDeps {
  readonly profiles: ReadonlyMap<string, CertificateProfile>;
  readonly store: CertStore;
  readonly clock: Clock;
  readonly random: Random;
  readonly lints?: readonly Lint[];
  /**
   * Refuses while signing must not happen (e.g. a restored database not yet reconciled: serials and CRL numbers never
   * go back).
   */
  readonly gate?: () => void;
  /** Told after a certificate is stored (the OCSP producer signs its response; RFC 6960 pre-production). */
  readonly onIssued?: (serial: string, issuerId: string) => void;
}

const HASH_BY_SIG: Record<string, string> = {
  [OID.ecdsaWithSHA256]: "sha256",
  [OID.ecdsaWithSHA384]: "sha384",
  [OID.sha256WithRSAEncryption]: "sha256",
  [OID.sha384WithRSAEncryption]: "sha384",
};

/**
 * The issuance pipeline, in order (model: smallstep sign_options, boulder issuance/cert.go):
 * profile → key (CSR proof of possession) → TBS from verified data → lint → record serial+TBS
 * → sign in the HSM → verify signature → store certificate → return.
 */
export class CertificateIssuer {
  private readonly lints: readonly Lint[];

  constructor(private readonly deps: IssuerDeps) {
    this.lints = deps.lints ?? ALL_LINTS;
  }

  profile(id: string): CertificateProfile {
    const p = this.deps.profiles.get(id);
    if (!p) throw new CaError("not-found", `unknown profile '${id}'`, { profileId: id });
    return p;
  }

  /** Everything up to and including lint: no HSM call and no DB write happen before it passes. */
  prepare(issuer: Authority, req: IssuanceRequest, serial: string) {
    const profile = this.profile(req.profileId);
    if (!req.allowedKinds.includes(profile.kind))
      throw new CaError(
        "forbidden",
        `profile '${profile.id}' (${profile.kind}) cannot be issued through this channel`,
        { profileId: profile.id },
      );
    const key = this.subjectKey(profile, req);
    if (!profile.keyTypes.includes(key.keyType))
      throw new CaError(
        "policy-violation",
        `key type ${key.keyType} not allowed by profile '${profile.id}' (${profile.keyTypes.join(", ")})`,
      );
    const { san, omittedEmails } = emailWithinValidatedDomains(profile, req.san ?? {}, req.validatedEmailDomains ?? []);
    checkSubject(profile, req.subject, san);
    if (
      req.validityDays !== undefined &&
      (!Number.isInteger(req.validityDays) || req.validityDays < 1 || req.validityDays > profile.validity.days)
    )
      throw new CaError(
        "policy-violation",
        `validity of ${req.validityDays} days outside 1..${profile.validity.days} (profile '${profile.id}')`,
      );
    const {
      der: tbsDer,
      notBefore,
      notAfter,
    } = buildTbs({
      profile,
      issuer,
      subject: req.subject,
      san,
      spki: key.spki,
      serial,
      now: this.deps.clock.now(),
      selfSigned: req.selfSigned ?? false,
      ...(req.validityDays !== undefined ? { validityDays: req.validityDays } : {}),
    });
    // Lint before sign: a failing lint means nothing is signed.
    assertLintsPass(
      runLints(this.lints, {
        tbsDer,
        profile,
        issuer,
        selfSigned: req.selfSigned ?? false,
        validatedEmailDomains: req.validatedEmailDomains ?? [],
      }),
    );
    return { profile, tbsDer, subjectDn: subjectToString(req.subject), notBefore, notAfter, omittedEmails };
  }

  async issue(issuer: Authority, req: IssuanceRequest, recorder?: IssuanceRecorder): Promise<IssuedCertificate> {
    this.deps.gate?.();
    const { clock, random } = this.deps;
    const store = recorder ?? this.deps.store;
    for (let attempt = 0; ; attempt++) {
      const serial = newSerial(issuer.serialPrefix, random);
      const p = this.prepare(issuer, req, serial);
      const event = (
        action: string,
        outcome: AuditEvent["outcome"],
        details?: Record<string, unknown>,
      ): AuditEvent => ({
        id: newId(random),
        at: clock.now(),
        actor: req.requestedBy,
        action,
        objectType: "certificate",
        objectId: serial,
        outcome,
        policy: `${p.profile.id}@${p.profile.version}`,
        details: { issuer: issuer.id, profile: p.profile.id, profileVersion: p.profile.version, ...details },
      });
      try {
        // Design: record serial + TBS before signing.
        await store.reserve(
          {
            serial,
            issuerId: issuer.id,
            profileId: p.profile.id,
            profileVersion: p.profile.version,
            subjectDn: p.subjectDn,
            notBefore: p.notBefore,
            notAfter: p.notAfter,
            tbs: p.tbsDer,
            requestedBy: req.requestedBy,
          },
          event("cert.reserve", "success", {
            subject: p.subjectDn,
            ...(p.omittedEmails.length
              ? { emailSanOmitted: p.omittedEmails.length, rule: "outside the validated domains (REQ-01)" }
              : {}),
          }),
        );
      } catch (e) {
        // A serial collision (never expected with 128 random bits) burns the serial and draws another;
        // a conflict the recorder marks final (its own records changed) is not about the serial.
        if (CaError.is(e, "conflict") && e.details?.final !== true && attempt < 3) continue;
        throw e;
      }
      let signature: Uint8Array;
      try {
        signature = await issuer.signer.sign(p.tbsDer);
      } catch (e) {
        await store.fail(serial, event("cert.sign", "failure", { error: (e as Error).message })).catch(() => undefined);
        throw asCaError(e, "hsm-unavailable");
      }
      const der = assembleSigned(p.tbsDer, issuer.signer.algorithmDer, signature);
      // Check the HSM's work before anyone sees it: the signature verifies with the CA key.
      const hash = HASH_BY_SIG[issuer.signer.algorithmOid];
      if (!hash || !nodeVerify(hash, p.tbsDer, issuerKey(issuer), signature)) {
        await store
          .fail(serial, event("cert.sign", "failure", { error: "signature does not verify with the CA key" }))
          .catch(() => undefined);
        throw new CaError(
          "hsm-unavailable",
          "the HSM returned a signature that does not verify with the CA public key",
        );
      }
      // Design: store the signed certificate before returning it.
      await store.complete(
        serial,
        der,
        event("cert.issue", "success", { subject: p.subjectDn, sha256: sha256Hex(der) }),
      );
      this.deps.onIssued?.(serial, issuer.id);
      return {
        serial,
        der,
        profileId: p.profile.id,
        issuerId: issuer.id,
        notBefore: p.notBefore,
        notAfter: p.notAfter,
        ...(p.omittedEmails.length ? { omittedEmails: p.omittedEmails } : {}),
      };
    }
  }

  private subjectKey(profile: CertificateProfile, req: IssuanceRequest): SubjectKey {
    if ((req.publicKey === undefined) === (req.csr === undefined))
      throw new CaError("invalid-input", "give exactly one of publicKey or csr");
    if (req.csr !== undefined) {
      if (profile.csr !== "allowed")
        throw new CaError("policy-violation", `profile '${profile.id}' does not accept PKCS#10 requests`);
      return verifyCsr(req.csr);
    }
    return parseSubjectKey(req.publicKey!);
  }
}

const issuerKeys = new WeakMap<Authority, KeyObject>();
function issuerKey(a: Authority): KeyObject {
  let k = issuerKeys.get(a);
  if (!k) issuerKeys.set(a, (k = createPublicKey({ key: Buffer.from(a.signer.spki), format: "der", type: "spki" })));
  return k;
}

/** Serial: one prefix octet (1..127) + 128 bits from the CSPRNG; positive and minimal by construction. */
export function newSerial(prefix: number, random: Random): string {
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 127)
    throw new CaError("config", `serial prefix ${prefix} not in 1..127`);
  const bytes = new Uint8Array(17);
  bytes[0] = prefix;
  bytes.set(random.bytes(16), 1);
  return toHex(bytes);
}

/**
 * REQ-01, per profile: where the email rule sets `outsideValidatedDomain`, an address outside the
 * organisation's validated domains is left out (omit) or refuses issuance (refuse).
 */
function emailWithinValidatedDomains(
  profile: CertificateProfile,
  san: SubjectAltNames,
  domains: readonly string[],
): { san: SubjectAltNames; omittedEmails: string[] } {
  const rule = profile.subjectAltName.email?.outsideValidatedDomain;
  const emails = san.email ?? [];
  if (!rule || emails.length === 0) return { san, omittedEmails: [] };
  const outside = emails.filter((e) => typeof e !== "string" || !emailWithinDomains(e, domains));
  if (outside.length === 0) return { san, omittedEmails: [] };
  if (rule === "refuse")
    throw new CaError(
      "policy-violation",
      `e-mail SAN outside the organisation's validated domains ` +
        `(${domains.join(", ") || "none validated"}): profile '${profile.id}' ` +
        `refuses it (REQ-01)`,
      { field: "san.email", rule: "outsideValidatedDomain", requirement: "REQ-01" },
    );
  const kept = emails.filter((e) => !outside.includes(e));
  const { email: _all, ...rest } = san;
  return { san: kept.length ? { ...rest, email: kept } : rest, omittedEmails: outside };
}

/**
 * Early, friendly checks of the verified attributes against the profile; the lints check
 * the built TBS again independently.
 */
function checkSubject(profile: CertificateProfile, subject: SubjectAttributes, san: SubjectAltNames): void {
  const bad = (m: string, field: string) => {
    throw new CaError("policy-violation", `${m} (profile '${profile.id}')`, { field });
  };
  for (const [k, v] of Object.entries(subject)) {
    if (v === undefined) continue;
    const rule = profile.subject[k];
    if (!rule) bad(`subject attribute ${k} not allowed`, `subject.${k}`);
    if (typeof v !== "string" || v.trim() !== v || v.length === 0)
      bad(`subject ${k} must be a non-empty trimmed string`, `subject.${k}`);
    if (rule!.maxLength !== undefined && v.length > rule!.maxLength)
      bad(`subject ${k} longer than ${rule!.maxLength}`, `subject.${k}`);
    if (rule!.pattern !== undefined && !new RegExp(`^(?:${rule!.pattern})$`, "u").test(v))
      bad(`subject ${k} '${v}' does not match ${rule!.pattern}`, `subject.${k}`);
    if (rule!.allowed !== undefined && !rule!.allowed.includes(v))
      bad(`subject ${k} '${v}' not in ${rule!.allowed.join(", ")}`, `subject.${k}`);
  }
  for (const [k, rule] of Object.entries(profile.subject))
    if (rule.presence === "required" && (subject as Record<string, string | undefined>)[k] === undefined)
      bad(`subject ${k} is required`, `subject.${k}`);
  for (const kind of ["email", "upn", "krb5Principal"] as const) {
    const values = san[kind] ?? [];
    const rule = profile.subjectAltName[kind];
    if (values.length > 0 && !rule) bad(`SAN ${kind} not allowed`, `san.${kind}`);
    if (rule?.presence === "required" && values.length === 0) bad(`SAN ${kind} is required`, `san.${kind}`);
    for (const v of values) {
      if (typeof v !== "string" || !/^[\x21-\x7e]+$/.test(v))
        bad(`SAN ${kind} must be printable ASCII without spaces`, `san.${kind}`);
      if (rule?.maxLength !== undefined && v.length > rule.maxLength)
        bad(`SAN ${kind} longer than ${rule.maxLength}`, `san.${kind}`);
      if (rule?.pattern !== undefined && !new RegExp(`^(?:${rule.pattern})$`, "u").test(v))
        bad(`SAN ${kind} '${v}' does not match ${rule.pattern}`, `san.${kind}`);
    }
  }
}
