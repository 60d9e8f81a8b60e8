import type { Evidence } from "../audit/evidence.js";
import { personLabel } from "../ra/person-names.js";
import type { Person } from "../ra/directory.js";

/** Who a person is in evidence a person reads: the name where the reader may see it, and always the label. */
export interface EvidencePerson {
  readonly label: string;
  readonly name?: string;
}

const ID = /\b[0-9a-f]{32}\b/g;
const ACTOR = /^(officer|holder):([0-9a-f]{32})$/;

/** Every person id the evidence names (applicant, identifiers, step takers, audit actors). */
export function evidencePersonIds(e: Evidence): string[] {
  const ids = new Set<string>();
  if (e.order?.applicantPersonId) ids.add(e.order.applicantPersonId);
  for (const s of e.story) {
    const m = ACTOR.exec(s.actor);
    if (m) ids.add(m[2]!);
  }
  for (const s of e.separation?.steps ?? []) ids.add(s.personId);
  for (const v of e.verdicts) for (const m of v.detail.matchAll(ID)) ids.add(m[0]);
  return [...ids];
}

/**
 * REQ-31 evidence as a person reads it (REQ-27): people by name (or label where the reader is not
 * entitled to the person's organisation), never a hex id; the raw actor stays in `actorId`, and
 * `people` maps each id to its label and name for tools.
 */
export function namedEvidence(e: Evidence, people: readonly Person[], mayRead: (organisationId: string) => boolean): Evidence & { people: Record<string, EvidencePerson> } {
  const byId = new Map(people.map((p) => [p.id, p]));
  const seen: Record<string, EvidencePerson> = {};
  const person = (id: string): EvidencePerson => {
    const p = byId.get(id);
    const v: EvidencePerson = { label: personLabel(id), ...(p && mayRead(p.organisationId) ? { name: p.name } : {}) };
    seen[id] = v;
    return v;
  };
  const words = (id: string) => {
    const v = person(id);
    return v.name ? `${v.name} (${v.label})` : v.label;
  };
  const text = (s: string) => s.replace(ID, (id) => (byId.has(id) ? words(id) : id));
  return {
    ...e,
    ...(e.order ? { order: { ...e.order, applicant: person(e.order.applicantPersonId) } as typeof e.order } : {}),
    story: e.story.map((s) => {
      const m = ACTOR.exec(s.actor);
      return m ? { ...s, actor: words(m[2]!), actorId: s.actor } : s;
    }),
    ...(e.separation ? { separation: { ...e.separation, steps: e.separation.steps.map((s) => ({ ...s, ...person(s.personId) })), pairs: e.separation.pairs.map((p) => ({ ...p, detail: text(p.detail) })) } } : {}),
    verdicts: e.verdicts.map((v) => ({ ...v, detail: text(v.detail) })),
    people: seen,
  };
}
