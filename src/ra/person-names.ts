import { createHash } from "node:crypto";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import type { AuditEvent } from "../ca/ports.js";
import type { DirectoryStore, Person } from "./directory.js";
import type { Actor } from "./order.js";
import { actorId } from "./actor-checks.js";

/** Crockford's base32 without I, L, O, U: read aloud and typed without confusion. */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * A short, stable label for a person record (officer or applicant) where a name may not be shown
 * or two people share one: six characters from a hash of the record's id, `K7Q-F2M`. The same for
 * every reader, it reveals nothing of the person and is never the id itself.
 */
export function personLabel(personId: string): string {
  const h = createHash("sha256").update(`cardpki-person-label:${personId}`).digest();
  let bits = 0n;
  for (let i = 0; i < 4; i++) bits = (bits << 8n) | BigInt(h[i]!);
  let out = "";
  for (let i = 0; i < 6; i++) out += ALPHABET[Number((bits >> BigInt(5 * i + 2)) & 31n)];
  return `${out.slice(0, 3)}-${out.slice(3)}`;
}

/** What one reader may see of a person: always the label, the rest only when entitled to the person's organisation. */
export interface PersonView {
  readonly id: string;
  readonly organisationId: string;
  readonly label: string;
  readonly name?: string;
  readonly birthDate?: string;
  readonly nationalIdMasked?: string;
  readonly language?: string;
  readonly email?: string;
  readonly phone?: string;
  readonly postalAddress?: string;
}

/**
 * Names where people read them (REQ-27, REQ-29, REQ-23). A person's name and identify-screen data
 * are decrypted for a reader only when the reader is entitled to the person's organisation's data
 * (an officer of that organisation, or service-owner staff, who serve every organisation); every
 * read that returns a decrypted name is audited as personal-data access, one event per person,
 * naming the reader and the route. A reader's own record is not audited (their own name).
 */
export class PersonNames {
  constructor(
    private readonly deps: {
      directory: DirectoryStore;
      clock: Clock;
      random: Random;
      audit: (e: AuditEvent) => Promise<void>;
    },
  ) {}

  /** REQ-23: officers read their own organisation's people; service-owner staff read every organisation's. */
  entitled(reader: Actor, organisationId: string): boolean {
    return reader.kind === "officer" && (reader.organisationId === organisationId || reader.serviceOwnerStaff === true);
  }

  /**
   * The people `ids` as `reader` may see them (unknown ids are left out). `detail` adds the contact
   * fields (a person's own page); `via` names the route in the audit event.
   */
  async read(
    reader: Actor,
    ids: readonly string[],
    via: string,
    o: { detail?: boolean } = {},
  ): Promise<Map<string, PersonView>> {
    const out = new Map<string, PersonView>();
    const unique = [...new Set(ids.filter(Boolean))];
    if (unique.length === 0) return out;
    const people = await this.deps.directory.people(unique);
    const named: Person[] = [];
    for (const p of people) {
      const base = { id: p.id, organisationId: p.organisationId, label: personLabel(p.id) };
      if (!this.entitled(reader, p.organisationId)) {
        out.set(p.id, base);
        continue;
      }
      out.set(p.id, {
        ...base,
        name: p.name,
        ...(p.birthDate ? { birthDate: p.birthDate } : {}),
        ...(p.nationalIdMasked ? { nationalIdMasked: p.nationalIdMasked } : {}),
        ...(p.language ? { language: p.language } : {}),
        ...(o.detail
          ? {
              ...(p.email ? { email: p.email } : {}),
              ...(p.phone ? { phone: p.phone } : {}),
              ...(p.postalAddress ? { postalAddress: p.postalAddress } : {}),
            }
          : {}),
      });
      if (p.id !== reader.personId) named.push(p);
    }
    // REQ-27: each person whose name (and identify-screen data) left the service in this answer.
    // One event per person, written together (the commit queue groups them into one transaction).
    await Promise.all(named.map((p) => this.deps.audit(this.event(reader, p, via, o.detail === true))));
    return out;
  }

  private event(reader: Actor, p: Person, via: string, detail: boolean): AuditEvent {
    return {
      id: newId(this.deps.random),
      at: this.deps.clock.now(),
      actor: actorId(reader),
      action: "personal-data.read",
      objectType: "person",
      objectId: p.id,
      outcome: "success",
      organisationId: p.organisationId,
      details: {
        requirement: "REQ-27",
        what: detail ? "name, birth date, masked national ID, contact details" : "name, birth date, masked national ID",
        via: via.slice(0, 200),
        ...(reader.credentialSerial ? { credential: reader.credentialSerial } : {}),
      },
    };
  }
}
