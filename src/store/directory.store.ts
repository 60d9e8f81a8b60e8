import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import type { DirectoryStore, Officer, Organisation, Person } from "../ra/directory.js";
import type { Role } from "../ra/order.js";
import { insertAuditEvent } from "./audit.store.js";
import type { FieldCipher } from "./field-cipher.js";
import type { OfficerCredentialRow, OfficerRow, OrganisationRow, PersonRow } from "./rows.js";

const org = (r: OrgColumns): Organisation => ({
  id: r.id,
  orgNumber: r.org_number,
  name: r.name,
  country: r.country,
  status: r.status as Organisation["status"],
  serviceOwner: !!r.service_owner,
  ...(r.registration_certificate ? { registrationCertificate: r.registration_certificate } : {}),
  ...(r.domain ? { domain: r.domain } : {}),
  ...(r.domain_validated_at != null ? { domainValidatedAt: new Date(Number(r.domain_validated_at)) } : {}),
  ...(r.ip_allow_list ? { ipAllowList: JSON.parse(r.ip_allow_list) as string[] } : {}),
});
/**
 * REQ-29: a person's name, email, phone and postal address are sealed to their row; the national ID is a keyed hash
 * (REQ-28).
 */
const person = (r: PersonRow, cipher: FieldCipher): Person => {
  const email = cipher.openOptional(r.email, { table: "people", column: "email", id: r.id });
  const phone = cipher.openOptional(r.phone, { table: "people", column: "phone", id: r.id });
  const postalAddress = cipher.openOptional(r.postal_address, { table: "people", column: "postal_address", id: r.id });
  const birthDate = cipher.openOptional(r.birth_date, { table: "people", column: "birth_date", id: r.id });
  const nationalIdMasked = cipher.openOptional(r.national_id_masked, {
    table: "people",
    column: "national_id_masked",
    id: r.id,
  });
  return {
    id: r.id,
    organisationId: r.organisation_id,
    nationalIdHash: r.national_id_hash,
    name: cipher.open(r.name, { table: "people", column: "name", id: r.id }),
    ...(email ? { email } : {}),
    ...(phone ? { phone } : {}),
    ...(postalAddress ? { postalAddress } : {}),
    ...(r.bound_by ? { boundBy: r.bound_by } : {}),
    ...(r.unbound_at != null ? { unboundAt: new Date(Number(r.unbound_at)) } : {}),
    ...(r.language ? { language: r.language } : {}),
    ...(birthDate ? { birthDate } : {}),
    ...(nationalIdMasked ? { nationalIdMasked } : {}),
  };
};

const officerOf = (r: OfficerRow): Officer => ({
  personId: r.person_id,
  roles: JSON.parse(r.roles) as Role[],
  serviceOwnerStaff: !!r.service_owner_staff,
  ...(r.qualification ? { qualification: r.qualification } : {}),
  ...(r.qualified_until != null ? { qualifiedUntil: new Date(Number(r.qualified_until)) } : {}),
});

const ORG_COLUMNS = [
  "id",
  "org_number",
  "name",
  "country",
  "status",
  "service_owner",
  "registration_certificate",
  "domain",
  "domain_validated_at",
  "ip_allow_list",
] as const;
type OrgColumns = Pick<OrganisationRow, (typeof ORG_COLUMNS)[number]>;

/** Organisations, people, officers and officer credentials over knex; each change with its audit event. */
export class KnexDirectoryStore implements DirectoryStore {
  /**
   * `reader` may be a separate read pool (SQLite WAL readers do not wait for the writer's commits).
   * `cipher` seals people's names and emails at rest (REQ-29); no query filters or sorts on them.
   */
  constructor(
    private readonly db: Knex,
    private readonly reader: Knex,
    private readonly cipher: FieldCipher,
  ) {}

  async organisation(id: string) {
    const r = await this.reader<OrganisationRow>("organisations").where({ id }).first();
    return r ? org(r) : undefined;
  }

  async organisationByNumber(orgNumber: string) {
    const r = await this.reader<OrganisationRow>("organisations").where({ org_number: orgNumber }).first();
    return r ? org(r) : undefined;
  }

  async organisations() {
    return (
      await this.reader<OrganisationRow>("organisations")
        .select(...ORG_COLUMNS)
        .orderBy("name")
    ).map(org);
  }

  async people(ids: readonly string[]) {
    if (ids.length === 0) return [];
    const rows = await this.reader<PersonRow>("people").whereIn("id", [...new Set(ids)]);
    await this.cipher.ready(
      ...rows.flatMap((r) => [r.name, r.email, r.phone, r.postal_address, r.birth_date, r.national_id_masked]),
    );
    return rows.map((r) => person(r, this.cipher));
  }

  async createOrganisation(o: Organisation, at: Date, audit: AuditEvent) {
    await this.db.transaction(async (trx) => {
      await trx<OrganisationRow>("organisations").insert({
        id: o.id,
        org_number: o.orgNumber,
        name: o.name,
        country: o.country,
        status: o.status,
        service_owner: o.serviceOwner,
        registration_certificate: o.registrationCertificate ?? null,
        domain: o.domain ?? null,
        domain_validated_at: o.domainValidatedAt?.getTime() ?? null,
        ip_allow_list: o.ipAllowList?.length ? JSON.stringify(o.ipAllowList) : null,
        created_at: at.getTime(),
      });
      await insertAuditEvent(trx, audit);
    });
  }

  async updateOrganisation(id: string, p: Parameters<DirectoryStore["updateOrganisation"]>[1], audit: AuditEvent) {
    const patch: Record<string, unknown> = {};
    if (p.registrationCertificate !== undefined) patch.registration_certificate = p.registrationCertificate;
    if (p.domain !== undefined) patch.domain = p.domain;
    if (p.domainValidatedAt !== undefined) patch.domain_validated_at = p.domainValidatedAt.getTime();
    if (p.domainValidationMethod !== undefined) patch.domain_validation_method = p.domainValidationMethod;
    if (p.status !== undefined) patch.status = p.status;
    if (p.ipAllowList !== undefined) patch.ip_allow_list = p.ipAllowList.length ? JSON.stringify(p.ipAllowList) : null;
    await this.db.transaction(async (trx) => {
      await trx<OrganisationRow>("organisations").where({ id }).update(patch);
      await insertAuditEvent(trx, audit);
    });
  }

  private async toPerson(r: PersonRow): Promise<Person> {
    await this.cipher.ready(r.name, r.email, r.phone, r.postal_address, r.birth_date, r.national_id_masked);
    return person(r, this.cipher);
  }

  async person(id: string) {
    const r = await this.reader<PersonRow>("people").where({ id }).first();
    return r ? this.toPerson(r) : undefined;
  }

  async personWithOrganisation(id: string) {
    const r: (PersonRow & Record<`o_${(typeof ORG_COLUMNS)[number]}`, unknown>) | undefined = await this.reader(
      "people as p",
    )
      .join("organisations as o", "o.id", "p.organisation_id")
      .where("p.id", id)
      .first("p.*", ...ORG_COLUMNS.map((c) => `o.${c} as o_${c}`));
    return r
      ? {
          person: await this.toPerson(r),
          organisation: org(Object.fromEntries(ORG_COLUMNS.map((c) => [c, r[`o_${c}`]])) as OrgColumns),
        }
      : undefined;
  }

  async personByNationalId(organisationId: string, nationalIdHash: string) {
    const r = await this.reader<PersonRow>("people")
      .where({ organisation_id: organisationId, national_id_hash: nationalIdHash })
      .whereNull("unbound_at")
      .first();
    return r ? this.toPerson(r) : undefined;
  }

  async createPerson(p: Person, at: Date, audit: AuditEvent) {
    await this.db.transaction(async (trx) => {
      // A person bound again after an earlier binding was removed gets a new record (the old one stays for the audit
      // trail).
      await trx<PersonRow>("people")
        .where({ organisation_id: p.organisationId, national_id_hash: p.nationalIdHash })
        .whereNotNull("unbound_at")
        .update({ national_id_hash: trx.raw("national_id_hash || ':' || id") });
      await trx<PersonRow>("people").insert({
        id: p.id,
        organisation_id: p.organisationId,
        national_id_hash: p.nationalIdHash,
        human_id: p.nationalIdHash.split(":")[0], // REQ-10: the human, the same in every organisation
        name: this.cipher.seal(p.name, { table: "people", column: "name", id: p.id }),
        email: this.cipher.sealOptional(p.email, { table: "people", column: "email", id: p.id }),
        phone: this.cipher.sealOptional(p.phone, { table: "people", column: "phone", id: p.id }),
        postal_address: this.cipher.sealOptional(p.postalAddress, {
          table: "people",
          column: "postal_address",
          id: p.id,
        }),
        bound_by: p.boundBy ?? null,
        bound_at: at.getTime(),
        created_at: at.getTime(),
        language: p.language ?? null,
        birth_date: this.cipher.sealOptional(p.birthDate, { table: "people", column: "birth_date", id: p.id }),
        national_id_masked: this.cipher.sealOptional(p.nationalIdMasked, {
          table: "people",
          column: "national_id_masked",
          id: p.id,
        }),
      });
      await insertAuditEvent(trx, audit);
    });
  }

  async unbindPerson(id: string, by: string, at: Date, audit: AuditEvent) {
    await this.db.transaction(async (trx) => {
      await trx<PersonRow>("people").where({ id }).update({ unbound_by: by, unbound_at: at.getTime() });
      await trx<OfficerRow>("officers").where({ person_id: id }).delete();
      await insertAuditEvent(trx, audit);
    });
  }

  /** Organisations marked as the service owner's (at most one is ever made by the bootstrap). */
  async serviceOwners(): Promise<Organisation[]> {
    return (await this.db<OrganisationRow>("organisations").where({ service_owner: true })).map(org);
  }

  /** How many bound people hold an officer record as service-owner staff (the bootstrap is refused when any do). */
  async activeServiceOwnerStaff(): Promise<number> {
    const r = await this.db("officers")
      .join("people", "people.id", "officers.person_id")
      .where("officers.service_owner_staff", true)
      .whereNull("people.unbound_at")
      .count({ n: "*" })
      .first();
    return Number(r?.n ?? 0);
  }

  async officer(personId: string): Promise<Officer | undefined> {
    const r = await this.reader<OfficerRow>("officers").where({ person_id: personId }).first();
    return r ? officerOf(r) : undefined;
  }

  async officersOfHuman(humanId: string) {
    const rows = await this.reader("officers as f")
      .join("people as p", "p.id", "f.person_id")
      .where("p.human_id", humanId)
      .whereNull("p.unbound_at")
      .select("f.*", "p.organisation_id");
    return rows.map((r: OfficerRow & Pick<PersonRow, "organisation_id">) => ({
      officer: officerOf(r),
      organisationId: r.organisation_id,
    }));
  }

  async saveOfficer(o: Officer, appointedBy: string, audit: AuditEvent) {
    const row = {
      person_id: o.personId,
      roles: JSON.stringify(o.roles),
      service_owner_staff: o.serviceOwnerStaff,
      appointed_by: appointedBy,
      qualification: o.qualification ?? null,
      qualified_until: o.qualifiedUntil?.getTime() ?? null,
    };
    await this.db.transaction(async (trx) => {
      await trx<OfficerRow>("officers").insert(row).onConflict("person_id").merge();
      await insertAuditEvent(trx, audit);
    });
  }

  async credentialOwner(serial: string) {
    const r = await this.reader<OfficerCredentialRow>("officer_credentials").where({ serial }).first();
    return r ? r.person_id : undefined;
  }

  async addCredential(serial: string, personId: string, at: Date, audit: AuditEvent) {
    await this.db.transaction(async (trx) => {
      await trx<OfficerCredentialRow>("officer_credentials").insert({
        serial,
        person_id: personId,
        created_at: at.getTime(),
      });
      await insertAuditEvent(trx, audit);
    });
  }
}
