import { CaError } from "../shared/ca-error.js";
import { textProblem } from "../shared/unicode-text.js";
import type { DirectoryStore, Organisation } from "./directory.js";
import type { OrderStore, OrderView } from "./order.js";
import type { CardCertificateRequest, RegisteredName } from "./ports.js";
import type { CertificateProfile } from "../policy/certificate-profile.js";
import { logonNames } from "./logon-name.js";

/** X.520 ub-common-name / ub-name (RFC 5280 Appendix A), as the card profiles cap CN, GN and SN. */
const MAX_NAME = 64;

const RULE_CITATION = {
  control: "RFC 5280 4.1.2.6 / UTS #39 3.1",
  bidi: "UAX #9 / UTS #39 3.1",
  "mixed-script": "UTS #39 5.2 mixed-script",
} as const;

/**
 * REQ-07: the name the certificate will carry comes only from the population register's answer.
 * An answer without a name, or with one no certificate could carry (too long for CN, control or
 * bidi characters, mixed scripts), refuses the order when it is created.
 */
export function registeredNameFrom(answer: { readonly name?: RegisteredName }, source: string): RegisteredName {
  const n = answer.name;
  if (!n || typeof n.fullName !== "string" || n.fullName.trim().length === 0)
    throw new CaError(
      "policy-violation",
      `the authoritative register (${source}) answers without a name for this ` +
        `person; the certificate's name comes only from the register, so no card ` +
        `order (REQ-07)`,
      { requirement: "REQ-07" },
      { code: "register.no-name" },
    );
  const name: RegisteredName = {
    fullName: n.fullName.trim(),
    ...(n.givenName?.trim() ? { givenName: n.givenName.trim() } : {}),
    ...(n.surname?.trim() ? { surname: n.surname.trim() } : {}),
  };
  for (const [field, value] of Object.entries(name) as [string, string][]) {
    if ([...value].length > MAX_NAME)
      throw new CaError(
        "policy-violation",
        `the registered ${field} is longer than ${MAX_NAME} characters (X.520 upper bound); no card order (REQ-07)`,
        { requirement: "REQ-07", field },
        { code: "register.name-too-long", params: { limit: MAX_NAME, nameField: field } },
      );
    const p = textProblem(value);
    if (p)
      throw new CaError(
        "policy-violation",
        `the registered ${field} from ${source} cannot go into a certificate: ` +
          `${p.message} (${RULE_CITATION[p.rule]}, REQ-07)`,
        { requirement: "REQ-07", field, rule: p.rule },
        { code: "register.name-unusable", params: { nameField: field } },
      );
  }
  return name;
}

/** REQ-01: the domains the organisation validated at onboarding (an e-mail SAN only within them). */
export function validatedDomains(org: Organisation): string[] {
  return org.domain && org.domainValidatedAt ? [org.domain] : [];
}

/**
 * What production certifies, from authoritative sources only: the name the register answered when
 * the order was created (REQ-07), the organisation as onboarded, and the e-mail offered only with
 * the organisation's validated domains, so the profile omits or refuses one outside them (REQ-01).
 * Refuses when the person was unbound after approval (REQ-21) or the organisation is no longer
 * active (REQ-01, REQ-19), and for an order that has no registered name recorded. The logon names the order's
 * profile asks for come from the holder's e-mail in the validated domain, or the production is refused (REQ-01).
 */
export async function certificateSubject(
  deps: { orders: OrderStore; directory: DirectoryStore; profile?: Pick<CertificateProfile, "id" | "subjectAltName"> },
  order: OrderView,
): Promise<Pick<CardCertificateRequest, "subject" | "email" | "validatedEmailDomains" | "logonNames">> {
  const bound = await deps.directory.personWithOrganisation(order.applicantPersonId);
  if (!bound || bound.person.unboundAt)
    throw new CaError(
      "policy-violation",
      "the applicant's binding to the organisation was removed after the order was " +
        "approved; no certificate is produced (REQ-21)",
      { requirement: "REQ-21" },
      { code: "production.person-unbound" },
    );
  const { person, organisation: org } = bound;
  if (org.status !== "active")
    throw new CaError(
      "policy-violation",
      `organisation ${org.orgNumber} is ${org.status}; no certificate is produced (REQ-01, REQ-19)`,
      { requirement: "REQ-01" },
      { code: "production.organisation-inactive", params: { status: org.status } },
    );
  const name = await deps.orders.registeredName(order.id);
  if (!name)
    throw new CaError(
      "policy-violation",
      `order ${order.id} has no registered name from the population register; order the card again (REQ-07)`,
      { requirement: "REQ-07" },
      { code: "production.no-registered-name" },
    );
  return {
    subject: {
      CN: name.fullName,
      ...(name.givenName ? { GN: name.givenName } : {}),
      ...(name.surname ? { SN: name.surname } : {}),
      O: org.name,
      organizationIdentifier: `NTR${org.country}-${org.orgNumber}`,
      C: org.country,
      serialNumber: person.id,
    },
    ...(person.email ? { email: person.email } : {}),
    validatedEmailDomains: validatedDomains(org),
    ...(deps.profile ? { logonNames: logonNames(deps.profile, person, validatedDomains(org)) } : {}),
  };
}
