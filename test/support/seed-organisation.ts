import { randomBytes } from "node:crypto";
import type { Knex } from "knex";

/**
 * Seeds an organisation with `count` handed-out card orders and their issued certificates by direct
 * multi-row inserts (realistic rows; the certificate bytes are not needed by OCSP or CRLs, which
 * read the status columns). Fixture data only: nothing is read back from here in a test.
 */
export async function seedOrganisation(
  db: Knex,
  opts: { count: number; issuerId: string; orgNumber?: string; chunk?: number },
): Promise<{ orgNumber: string; organisationId: string; serials: string[] }> {
  const tag = randomBytes(6).toString("hex");
  const orgNumber = opts.orgNumber ?? `556${parseInt(tag.slice(0, 6), 16).toString().padStart(7, "0").slice(0, 7)}`;
  const organisationId = `org-${tag}`;
  const now = Date.now();
  await db("organisations").insert({
    id: organisationId,
    org_number: orgNumber,
    name: `Ceasing AB ${orgNumber}`, // a name as an officer would read it (no hex: the portal checks flag raw ids)
    status: "active",
    created_at: now,
    country: "SE",
  });
  const personId = `person-${tag}`;
  await db("people").insert({
    id: personId,
    organisation_id: organisationId,
    national_id_hash: randomBytes(32).toString("hex"),
    name: "Seeded Holder",
    created_at: now,
  });
  const chunk = opts.chunk ?? 200;
  const serials: string[] = [];
  const prefix = "05" + tag; // first octet 0x05: positive, apart from the demo's prefixes
  for (let i = 0; i < opts.count; i += chunk) {
    const certs = [];
    const orders = [];
    for (let j = i; j < Math.min(opts.count, i + chunk); j++) {
      const serial = prefix + j.toString(16).padStart(32 - prefix.length, "0");
      serials.push(serial);
      certs.push({
        serial,
        issuer_id: opts.issuerId,
        profile_id: "loa3-smartcard-auth",
        profile_version: 2,
        status: "issued",
        subject_dn: `CN=Holder ${j},O=Ceasing AB,organizationIdentifier=NTRSE-${orgNumber},C=SE`,
        not_before: now - 60_000,
        not_after: now + 365 * 86_400_000,
        tbs: Buffer.alloc(0),
        der: null,
        requested_by: "seed",
        created_at: now,
        updated_at: now,
      });
      orders.push({
        id: `order-${tag}-${j}`,
        organisation_id: organisationId,
        applicant_id: personId,
        workflow_id: "loa3-card-order",
        workflow_version: 1,
        state: "ACTIVE",
        version: 1,
        created_at: now,
        updated_at: now,
        purpose: "holder",
        profile_id: "loa3-smartcard-auth",
        cert_serial: serial,
      });
    }
    await db("certificates").insert(certs);
    await db("orders").insert(orders);
  }
  return { orgNumber, organisationId, serials };
}
