import { CaError } from "../shared/ca-error.js";
import type { CertificateProfile } from "../policy/certificate-profile.js";

/** The rule a refusal names: the logon name comes from the holder's e-mail in the validated domain (REQ-01). */
export const LOGON_NAME_RULE = "logon-name-from-validated-email";

/** What an e-mail local part may hold to be a UPN prefix and one Kerberos name component (RFC 4120 6.2). */
const LOCAL_PART = /^[a-z0-9!#$%&'*+=?^_`{|}~.-]{1,64}$/;

export interface LogonNames {
  readonly upn?: readonly string[];
  readonly krb5Principal?: readonly string[];
}

/**
 * The logon names a profile asks the RA for (`from: validated-email`), from authoritative data only: the holder's
 * e-mail address on their record, when its domain is the organisation's validated domain itself (REQ-01; a
 * subdomain is not), lower-case. The UPN is that address (the UPN suffix is the validated domain, as an AD forest
 * takes its UPN suffixes from its DNS domains); the Kerberos principal is `local@DOMAIN`, the realm the validated
 * domain in upper case (RFC 4120 6.1, as AD and most MIT realms name themselves). Refuses (policy-violation, the
 * rule named) an address that is missing, outside the domain or not representable; no officer types a name.
 */
export function logonNames(
  profile: Pick<CertificateProfile, "id" | "subjectAltName">,
  holder: { readonly email?: string | undefined },
  validatedDomains: readonly string[],
): LogonNames {
  const { upn, krb5Principal } = profile.subjectAltName;
  const wantUpn = upn?.from === "validated-email";
  const wantKrb5 = krb5Principal?.from === "validated-email";
  if (!wantUpn && !wantKrb5) return {};
  const refuse = (why: string, code: string) => {
    throw new CaError(
      "policy-violation",
      `profile '${profile.id}' puts the holder's logon name in the certificate from their e-mail address in the ` +
        `organisation's validated domain: ${why} (${LOGON_NAME_RULE}, REQ-01)`,
      { rule: LOGON_NAME_RULE, requirement: "REQ-01", profileId: profile.id },
      { code, params: { domains: [...validatedDomains] } },
    );
  };
  const domain = validatedDomains[0]?.toLowerCase().replace(/\.$/, "");
  if (!domain) return refuse("the organisation has no validated domain", "logon-name.no-validated-domain");
  const email = holder.email?.trim().toLowerCase();
  if (!email) return refuse("the holder's record has no e-mail address", "logon-name.no-email");
  const at = email.lastIndexOf("@");
  const local = email.slice(0, at);
  const host = email.slice(at + 1).replace(/\.$/, "");
  if (at < 1 || !validatedDomains.some((d) => d.toLowerCase().replace(/\.$/, "") === host))
    return refuse(`the address is not in ${validatedDomains.join(", ")}`, "logon-name.outside-validated-domain");
  if (!LOCAL_PART.test(local) || local.startsWith(".") || local.endsWith(".") || local.includes(".."))
    return refuse("the address's local part cannot be a Kerberos name component", "logon-name.unusable-local-part");
  return {
    ...(wantUpn ? { upn: [`${local}@${host}`] } : {}),
    ...(wantKrb5 ? { krb5Principal: [`${local}@${host.toUpperCase()}`] } : {}),
  };
}
