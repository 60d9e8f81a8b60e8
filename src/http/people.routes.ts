import { CaError } from "../shared/ca-error.js";
import type { Actor, OrderView } from "../ra/order.js";
import { personLabel, type PersonView } from "../ra/person-names.js";
import type { RaApiDeps } from "./ra.routes.js";
import { raRoute, type RaRoute } from "./ra-route.js";
import type { MeJson, OrderJson, OrderNames, TimelineEntry } from "./schemas/ra.schemas.js";
import { ORGANISATION_PICKS, PEOPLE_FOUND, PERSON } from "./schemas/people.schemas.js";

/** The words a screen shows for a person: the name where the reader is entitled, else the label. */
const who = (v: PersonView | undefined, id: string) => ({
  label: v?.label ?? personLabel(id),
  ...(v?.name ? { name: v.name } : {}),
});

async function organisationNames(d: RaApiDeps, ids: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!d.directory) return out;
  for (const id of new Set(ids)) {
    const o = await d.directory.organisation(id);
    if (o) out.set(id, o.name);
  }
  return out;
}

/**
 * Orders as people read them (REQ-27): the applicant's name, birth date and masked national ID
 * for the identify screen, the name or label of each officer who took a step, the organisation's
 * name. Names only for readers entitled to the person's organisation; each read audited by
 * PersonNames. `via` names the route in the audit event.
 */
export async function namedOrders<T extends OrderJson>(
  d: RaApiDeps,
  actor: Actor,
  rows: readonly { json: T; view: OrderView }[],
  via: string,
): Promise<(Omit<T, keyof OrderNames> & OrderNames)[]> {
  if (rows.length === 0) return [];
  const ids = rows.flatMap(({ view }) => [
    view.applicantPersonId,
    ...view.identifications.map((i) => i.officerId),
    ...(view.actors ?? []).map((a) => a.personId),
  ]);
  const people = d.names ? await d.names.read(actor, ids, via) : new Map<string, PersonView>();
  const orgs = await organisationNames(
    d,
    rows.map(({ view }) => view.organisationId),
  );
  return rows.map(({ json, view }) => {
    const a = people.get(view.applicantPersonId);
    return {
      ...json,
      organisation: {
        id: view.organisationId,
        ...(orgs.has(view.organisationId) ? { name: orgs.get(view.organisationId) } : {}),
      },
      applicant: {
        id: view.applicantPersonId,
        ...who(a, view.applicantPersonId),
        ...(a?.birthDate ? { birthDate: a.birthDate } : {}),
        ...(a?.nationalIdMasked ? { nationalIdMasked: a.nationalIdMasked } : {}),
      },
      identifications: view.identifications.map((i) => {
        const w = who(people.get(i.officerId), i.officerId);
        return {
          by: i.officerId,
          byLabel: w.label,
          ...(w.name ? { byName: w.name } : {}),
          at: i.at,
          documentType: i.document.type,
          faceCompared: i.faceCompared,
          byEid: i.byEid === true,
        };
      }),
      actors: (view.actors ?? []).map((x) => ({
        action: x.action,
        at: x.at,
        ...who(people.get(x.personId), x.personId),
      })),
    };
  });
}

/** One order as people read it (see namedOrders). */
export async function namedOrder<T extends OrderJson>(
  d: RaApiDeps,
  actor: Actor,
  json: T,
  view: OrderView,
  via: string,
): Promise<Omit<T, keyof OrderNames> & OrderNames> {
  return (await namedOrders(d, actor, [{ json, view }], via))[0]!;
}

/** The order's timeline as people read it: who acted, by name or label, never `officer:<id>`. */
export async function namedTimeline(
  d: RaApiDeps,
  actor: Actor,
  entries: readonly Omit<TimelineEntry, "actorKind" | "actorLabel" | "actorName">[],
  via: string,
): Promise<TimelineEntry[]> {
  const idOf = (a: unknown) => (typeof a === "string" ? /^(officer|holder):([0-9a-f]{32})$/.exec(a) : null);
  const people = d.names
    ? await d.names.read(actor, entries.map((e) => idOf(e.actor)?.[2] ?? "").filter(Boolean), via)
    : new Map<string, PersonView>();
  return entries.map((e) => {
    const m = idOf(e.actor);
    const kind = m
      ? m[1]
      : typeof e.actor === "string"
        ? (/^(applicant|system)\b/.exec(e.actor)?.[1] ?? (e.actor.startsWith("operator:") ? "operator" : "other"))
        : "other";
    if (!m) return { ...e, actorKind: kind };
    const w = who(people.get(m[2]!), m[2]!);
    return { ...e, actorKind: kind, actorLabel: w.label, ...(w.name ? { actorName: w.name } : {}) };
  });
}

/**
 * `GET /me`: the caller's own name, label, language and organisation (their own data: not audited as a read of
 * someone's).
 */
export async function namedMe(d: RaApiDeps, actor: Actor): Promise<MeJson> {
  const p = actor.personId && d.directory ? await d.directory.person(actor.personId) : undefined;
  const o = actor.organisationId && d.directory ? await d.directory.organisation(actor.organisationId) : undefined;
  return {
    ...actor,
    ...(actor.personId ? { label: personLabel(actor.personId) } : {}),
    ...(p ? { name: p.name, ...(p.language ? { language: p.language } : {}) } : {}),
    ...(o ? { organisation: { id: o.id, name: o.name, country: o.country } } : {}),
  };
}

const namesOf = (d: RaApiDeps) => {
  if (!d.names)
    throw new CaError("not-found", "names are not served here", undefined, {
      code: "service.not-here",
      params: { what: "people" },
    });
  return d.names;
};

/** People and organisations where officers pick them (no one types a 32-hex id), names audited (REQ-27). */
export const PEOPLE_ROUTES: readonly RaRoute[] = [
  raRoute({
    method: "get",
    path: "/people",
    response: PEOPLE_FOUND,
    summary:
      "Find a person bound to my organisation by national ID number " +
      "(?nationalId=…[&organisationId=… for service-owner staff]): 0 or 1 people; " +
      "the read is audited (REQ-27)",
    auth: "officer",
    roles: ["ra-officer", "ra-admin", "service-owner-staff"],
    handle: async ({ actor, query }, d) => {
      const nationalId = query.nationalId;
      if (typeof nationalId !== "string" || !/^[0-9A-Za-z -]{4,32}$/.test(nationalId))
        throw new CaError(
          "invalid-input",
          "nationalId is 4 to 32 letters, digits, spaces or hyphens",
          { fieldFaults: [{ pointer: "/nationalId", keyword: "pattern" }] },
          { code: "validation.invalid-body", params: { count: 1 } },
        );
      const organisationId =
        typeof query.organisationId === "string" && query.organisationId !== ""
          ? query.organisationId
          : actor.organisationId;
      if (organisationId !== undefined && !/^[0-9a-f]{32}$/.test(organisationId))
        throw new CaError("invalid-input", "organisationId is an id (32 hexadecimal digits)", undefined, {
          code: "request.bad-organisation",
        });
      let id: string;
      try {
        id = await d.orders.personByNationalId(actor, nationalId, organisationId); // scope checked there (REQ-23)
      } catch (e) {
        if (CaError.is(e, "not-found")) return [];
        throw e;
      }
      const v = (await namesOf(d).read(actor, [id], "GET /api/v1/people", { detail: true })).get(id);
      const orgs = await organisationNames(d, v ? [v.organisationId] : []);
      return v
        ? [{ ...v, ...(orgs.has(v.organisationId) ? { organisationName: orgs.get(v.organisationId) } : {}) }]
        : [];
    },
  }),
  raRoute({
    method: "get",
    path: "/people/:id",
    response: PERSON,
    summary:
      "A person of my organisation: name, label, birth date, masked national ID, " +
      "language, contact details; the read is audited (REQ-27)",
    auth: "officer",
    roles: ["ra-officer", "ra-admin", "service-owner-staff"],
    handle: async ({ actor, params }, d) => {
      const names = namesOf(d);
      const p = d.directory ? await d.directory.person(params.id!) : undefined;
      if (!p) throw new CaError("not-found", `no person ${params.id}`, undefined, { code: "person.not-found" });
      if (!names.entitled(actor, p.organisationId))
        throw new CaError(
          "forbidden",
          "the person belongs to another organisation (REQ-23)",
          { requirement: "REQ-23", rule: "organisation-scope" },
          { code: "scope.other-organisation" },
        );
      const v = (await names.read(actor, [p.id], `GET /api/v1/people/${p.id}`, { detail: true })).get(p.id)!;
      const orgs = await organisationNames(d, [p.organisationId]);
      return {
        ...v,
        ...(orgs.has(p.organisationId) ? { organisationName: orgs.get(p.organisationId) } : {}),
        ...(p.unboundAt ? { unboundAt: p.unboundAt } : {}),
      };
    },
  }),
  raRoute({
    method: "get",
    path: "/organisations",
    response: ORGANISATION_PICKS,
    summary: "The organisations I may pick: every one for service-owner staff, my own for others",
    auth: "officer",
    handle: async ({ actor }, d) => {
      if (!d.directory) return [];
      const all = actor.serviceOwnerStaff
        ? await d.directory.organisations()
        : actor.organisationId
          ? [await d.directory.organisation(actor.organisationId)].filter((o) => o !== undefined)
          : [];
      return all
        .map((o) => ({
          id: o.id,
          name: o.name,
          orgNumber: o.orgNumber,
          country: o.country,
          status: o.status,
          serviceOwner: o.serviceOwner,
          mine: o.id === actor.organisationId,
        }))
        .sort((a, b) => Number(b.mine) - Number(a.mine) || a.name.localeCompare(b.name));
    },
  }),
];
