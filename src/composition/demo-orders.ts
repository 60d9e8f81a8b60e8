import { parseTemplateBody } from "../shared/message-template.js";
import { CaError } from "../shared/ca-error.js";
import type { Actor } from "../ra/order.js";
import { humanIdOf } from "../ra/human.js";
import type { Ra } from "./ra.js";
import type { Parts } from "./parts.js";

/** The service owner's staff officer (bootstrapped by setup-demo or `cardpki ra bootstrap-staff`) as an actor. */
export async function staffActor(ra: Ra, orgNumber: string, nationalId: string): Promise<Actor> {
  const so = await ra.directory.organisationByNumber(orgNumber);
  const p = so ? await ra.directory.personByNationalId(so.id, ra.hasher.hash("national-id", nationalId)) : undefined;
  const o = p ? await ra.directory.officer(p.id) : undefined;
  if (!so || !p || !o?.serviceOwnerStaff)
    throw new CaError("not-found", `no service-owner staff officer ${nationalId} in organisation ${orgNumber}`);
  return {
    kind: "officer",
    personId: p.id,
    humanId: humanIdOf(p.nationalIdHash),
    roles: o.roles,
    organisationId: so.id,
    serviceOwnerStaff: true,
    ...(o.qualifiedUntil ? { qualifiedUntil: o.qualifiedUntil } : {}),
  };
}

/**
 * A whole LoA3 (or `workflowId`) order up to IN_PRODUCTION, for demos, benchmarks and tests of the
 * card writer: a new onboarded organisation, four qualified officers as the workflow's separation
 * matrix needs (REQ-10: officers[0] and [1] identify, [3] approves and releases, [2] is left for the
 * hand-out), the holder (who must be alive in the register), terms accepted with the token from the
 * outbox (or, given `termsToken`, from where the applicant received it: REQ-06), the identifications, approval,
 * release.
 */
export async function demoOrderInProduction(
  rt: Parts<"clock" | "config">,
  ra: Ra,
  input: {
    staff: Actor;
    orgNumber: string;
    holder: { nationalId: string; name: string; email?: string; phone?: string; postalAddress?: string };
    workflowId?: string;
    termsToken?: (orderId: string) => Promise<string>;
  },
): Promise<{ orderId: string; holderId: string; organisationId: string; officers: Actor[] }> {
  const { staff } = input;
  const org = await ra.onboarding.registerOrganisation(staff, {
    orgNumber: input.orgNumber,
    name: `Demo ${input.orgNumber} AB`,
    country: "SE",
  });
  await ra.onboarding.recordOnboardingEvidence(staff, org.id, {
    registrationCertificate: "demo",
    domain: `org${input.orgNumber}.example`,
    domainValidationMethod: "dns-txt",
  });
  const until = new Date(rt.clock.now().getTime() + 30 * 86_400_000);
  const officers: Actor[] = [];
  for (let i = 0; i < 4; i++) {
    const p = await ra.onboarding.bindPerson(staff, org.id, {
      nationalId: `19800101${1000 + i}`,
      name: `Officer ${i + 1}`,
    });
    await ra.onboarding.appointOfficer(staff, p.id, {
      roles: ["ra-officer"],
      qualification: "demo",
      qualifiedUntil: until,
    });
    officers.push({
      kind: "officer",
      personId: p.id,
      humanId: humanIdOf(p.nationalIdHash),
      roles: ["ra-officer"],
      organisationId: org.id,
      qualifiedUntil: until,
    });
  }
  const holder = await ra.onboarding.bindPerson(staff, org.id, input.holder);
  const [o1, o2, , approver] = officers as [Actor, Actor, Actor, Actor];
  const workflow = ra.orders.workflow(input.workflowId ?? "loa3-card-order");
  const o = await ra.orders.create(o1, {
    personId: holder.id,
    workflowId: workflow.id,
    nationalId: input.holder.nationalId,
  });
  const stored = String((await ra.outbox.recent({ personId: holder.id, limit: 1 }))[0]?.body);
  const token = input.termsToken
    ? await input.termsToken(o.id)
    : (parseTemplateBody(stored)?.params.token ?? /token: ([A-Z0-9]+)/.exec(stored)?.[1]);
  if (!token) throw new CaError("internal", "the applicant's token is not in the outbox");
  await ra.orders.act(
    o.id,
    "accept-terms",
    { kind: "applicant", roles: [] },
    { applicantToken: token, termsVersion: rt.config.ra.termsVersion, accepted: true },
  );
  const doc = {
    type: "passport",
    number: `DM${input.orgNumber}`,
    expires: new Date(until.getTime() + 3650 * 86_400_000),
  };
  await ra.orders.act(o.id, "identify", o1, { document: doc, faceCompared: true });
  if (workflow.identifications > 1) await ra.orders.act(o.id, "identify", o2, { document: doc, faceCompared: true });
  await ra.orders.act(o.id, "approve", approver, {});
  await ra.orders.act(o.id, "start-production", approver, {});
  return { orderId: o.id, holderId: holder.id, organisationId: org.id, officers };
}
