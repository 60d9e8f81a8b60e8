import { CaError } from "../shared/ca-error.js";
import { toHex } from "../asn1/der.js";
import type { CertificateProfile } from "../policy/certificate-profile.js";
import type { Authority } from "./authority.js";
import type { ReservationReader } from "./ports.js";
import { readTbsViewFast } from "./lints/fast-tbs-view.js";
import { ALL_LINTS, assertLintsPass, runLints, type Lint } from "./lints/index.js";

/**
 * REQ-01's validated domains (e-mail, logon names) belong to the RA's organisation records, which the signer does
 * not hold: those lints run in the caller's issuance pipeline; every other lint runs again here.
 */
const CALLER_ONLY_LINTS = new Set(["san_email_within_validated_domain", "san_logon_name_within_validated_domain"]);

export interface SigningDeskDeps {
  readonly authority: (id: string) => Authority;
  readonly reservations: ReservationReader;
  readonly profiles: ReadonlyMap<string, CertificateProfile>;
  /** Refuses while this process must not sign (restored database, lost writer lease). */
  readonly gate: () => void;
  readonly lints?: readonly Lint[];
}

/**
 * The CA signer's desk for callers in other processes: it signs a TBSCertificate only when that
 * exact TBS was recorded as a reserved serial of this CA (design: record serial + TBS before
 * signing), for a profile remote callers may use (never a CA certificate), and when the lints
 * pass again on the bytes to be signed. The caller cannot make the CA key sign anything else.
 */
export class SigningDesk {
  private readonly lints: readonly Lint[];

  constructor(private readonly deps: SigningDeskDeps) {
    this.lints = (deps.lints ?? ALL_LINTS).filter((l) => !CALLER_ONLY_LINTS.has(l.id));
  }

  async signCertificate(caId: string, tbsDer: Uint8Array): Promise<Uint8Array> {
    this.deps.gate();
    const issuer = this.deps.authority(caId);
    let serial: string;
    try {
      serial = toHex(readTbsViewFast(tbsDer).serial);
    } catch (e) {
      throw new CaError("invalid-input", `not a TBSCertificate: ${(e as Error).message}`, { rule: "RFC 5280 4.1" });
    }
    const r = await this.deps.reservations.reservation(serial);
    const refuse = (why: string) =>
      new CaError(
        "forbidden",
        `serial ${serial}: ${why}; the signer signs only a TBS recorded before ` +
          `signing (design: record serial + TBS before signing)`,
        { serial, rule: "reserved TBS" },
      );
    if (!r) throw refuse("not reserved");
    if (r.status !== "reserved") throw refuse(`is ${r.status}, not reserved`);
    if (r.issuerId !== issuer.id) throw refuse(`reserved for CA '${r.issuerId}', not '${issuer.id}'`);
    if (toHex(r.tbs) !== toHex(tbsDer)) throw refuse("the TBS differs from the one recorded");
    const profile = this.deps.profiles.get(r.profileId);
    if (!profile || profile.version !== r.profileVersion)
      throw new CaError(
        "policy-violation",
        `serial ${serial}: profile ${r.profileId}@${r.profileVersion} is not loaded in the signer`,
        { serial },
      );
    if (profile.kind === "ca")
      throw new CaError(
        "forbidden",
        `profile '${profile.id}' issues CA certificates: only a ceremony does that, never a remote caller`,
        { profileId: profile.id },
      );
    assertLintsPass(runLints(this.lints, { tbsDer, profile, issuer, selfSigned: false }));
    return issuer.signer.sign(tbsDer);
  }
}
