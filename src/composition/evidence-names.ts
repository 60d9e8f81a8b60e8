import type { Evidence } from "../audit/evidence.js";
import type { ConformanceReport } from "../audit/report.js";
import { personLabel } from "../ra/person-names.js";
import type { Person } from "../ra/directory.js";

/** Who a person is in evidence a person reads: the name where the reader may see it, and always the label. */
export interface EvidencePerson {
  readonly label: string;
  readonly name?: string;
}

/** Each person by label, and by name where the reader may see it (REQ-27); `seen` collects who was shown. */
function personWords(people: readonly Person[], mayRead: (organisationId: string) => boolean) {
  const byId = new Map(people.map((p) => [p.id, p]));
  const seen: Record<string, EvidencePerson> = {};
  const person = (id: string): EvidencePerson => {
    const p = byId.get(id);
    const v: EvidencePerson = { label: personLabel(id), ...(p && mayRead(p.organisationId) ? { name: p.name } : {}) };
    seen[id] = v;
    return v;
  };
  return { person, seen, known: (id: string) => byId.has(id) };
}

const ID = /\b[0-9a-f]{32}\b/g;
const ACTOR = /^(officer|holder):(\S+)$/; // any id: a person the reader cannot look up still gets a label

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
export function namedEvidence(
  e: Evidence,
  people: readonly Person[],
  mayRead: (organisationId: string) => boolean,
): Evidence & { people: Record<string, EvidencePerson> } {
  const { person, seen, known } = personWords(people, mayRead);
  const words = (id: string) => {
    const v = person(id);
    return v.name ? `${v.name} (${v.label})` : v.label;
  };
  const text = (s: string) => s.replace(ID, (id) => (known(id) ? words(id) : id));
  return {
    ...e,
    ...(e.order ? { order: { ...e.order, applicant: person(e.order.applicantPersonId) } as typeof e.order } : {}),
    story: e.story.map((s) => {
      const m = ACTOR.exec(s.actor);
      return m ? { ...s, actor: words(m[2]!), actorId: s.actor } : s;
    }),
    ...(e.separation
      ? {
          separation: {
            ...e.separation,
            steps: e.separation.steps.map((s) => ({ ...s, ...person(s.personId) })),
            pairs: e.separation.pairs.map((p) => ({ ...p, detail: text(p.detail) })),
          },
        }
      : {}),
    verdicts: e.verdicts.map((v) => ({ ...v, detail: text(v.detail) })),
    people: seen,
  };
}

/**
 * Every person id the conformance report names (officer and holder actors of the activity, ids in violation details).
 */
export function reportPersonIds(r: ConformanceReport): string[] {
  const ids = new Set<string>();
  for (const a of r.officerActivity) {
    const m = ACTOR.exec(a.actor);
    if (m) ids.add(m[2]!);
  }
  for (const v of r.violations) for (const m of v.detail.matchAll(ID)) ids.add(m[0]);
  return [...ids];
}

/** One row of the report's activity as a person reads it: the actor by name (or label), the raw actor in `actorId`. */
export type NamedActivity = ConformanceReport["officerActivity"][number] & {
  readonly actorId: string;
  readonly actorLabel?: string;
  readonly actorName?: string;
};

/**
 * REQ-31 conformance report as a person reads it (REQ-27): officers and holders by name where the
 * reader may see their organisation, else by label, never `officer:<id>`; violation details the
 * same way; `people` maps each id named to its label and name.
 */
export function namedReport<R extends ConformanceReport>(
  r: R,
  people: readonly Person[],
  mayRead: (organisationId: string) => boolean,
): Omit<R, "officerActivity"> & { officerActivity: NamedActivity[]; people: Record<string, EvidencePerson> } {
  const { person, seen, known } = personWords(people, mayRead);
  const words = (v: EvidencePerson) => (v.name ? `${v.name} (${v.label})` : v.label);
  return {
    ...r,
    officerActivity: r.officerActivity.map((a) => {
      const m = ACTOR.exec(a.actor);
      if (!m) return { ...a, actorId: a.actor };
      const v = person(m[2]!);
      return { ...a, actor: words(v), actorId: a.actor, actorLabel: v.label, ...(v.name ? { actorName: v.name } : {}) };
    }),
    violations: r.violations.map((v) => ({
      ...v,
      detail: v.detail.replace(ID, (id) => (known(id) ? words(person(id)) : id)),
    })),
    people: seen,
  };
}
