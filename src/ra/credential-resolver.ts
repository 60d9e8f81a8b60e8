import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Workflow } from "../policy/workflow.js";
import type { DirectoryStore } from "./directory.js";
import type { Actor, OrderStore } from "./order.js";
import type { CardCertificates } from "./ports.js";
import { humanIdOf } from "./human.js";

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * REQ-22: who is calling, from nothing but the client certificate that TLS verified. The
 * certificate must be one this CA issued (same DER), currently valid and not revoked or on hold;
 * an ra-officer certificate maps to its officer (REQ-24 roles, REQ-23 organisation), a card
 * certificate to the holder of its order. A card certificate on hold only because its card awaits
 * activation (order HANDED_OUT, hold placed at production) resolves to its holder with
 * `credentialOnHold`: the RA routes refuse such an actor except the activation (REQ-16).
 */
export class CredentialResolver {
  constructor(
    private readonly deps: {
      certs: CardCertificates;
      directory: DirectoryStore;
      orders: OrderStore;
      workflows: ReadonlyMap<string, Workflow>;
      clock: Clock;
    },
  ) {}

  async resolve(serial: string, der: Uint8Array): Promise<{ actor: Actor; ipAllowList?: readonly string[] }> {
    const { certs, directory, orders, workflows, clock } = this.deps;
    const s = serial.toLowerCase();
    const st = await certs.status(s);
    if (!st || !st.der || !equal(st.der, der))
      throw new CaError("unauthorized", "the client certificate was not issued by this CA", undefined, {
        code: "credential.unknown",
      });
    const now = clock.now();
    // REQ-16: a card certificate on hold only because it awaits activation is accepted, marked, for the activation
    // alone.
    const awaitingActivation = st.status === "on-hold" && st.holdCause === "activation";
    if (st.status !== "good" && !awaitingActivation)
      throw new CaError(
        "unauthorized",
        `the client certificate is ${st.status}${st.status === "on-hold" ? " (suspended)" : ""}`,
        undefined,
        { code: "credential.not-good", params: { status: st.status } },
      );
    if (st.notBefore > now || st.notAfter <= now)
      throw new CaError("unauthorized", "the client certificate is not within its validity period", undefined, {
        code: "credential.not-valid-now",
      });
    const personId =
      st.profileId === "ra-officer" && !awaitingActivation ? await directory.credentialOwner(s) : undefined;
    // An officer card not activated yet is not a credential: its holder may only activate it (REQ-16).
    if (personId) {
      const bound = await directory.personWithOrganisation(personId);
      const officer = await directory.officer(personId);
      if (!bound || bound.person.unboundAt || !officer)
        throw new CaError("unauthorized", "the client certificate belongs to no current officer", undefined, {
          code: "credential.no-officer",
        });
      const { person, organisation: org } = bound;
      if (org.status !== "active")
        throw new CaError("unauthorized", "the officer's organisation is not active", undefined, {
          code: "credential.organisation-inactive",
        });
      return {
        actor: {
          kind: "officer",
          personId: person.id,
          humanId: humanIdOf(person.nationalIdHash),
          roles: officer.roles,
          organisationId: org.id,
          serviceOwnerStaff: officer.serviceOwnerStaff,
          credentialSerial: s,
          ...(officer.qualifiedUntil ? { qualifiedUntil: officer.qualifiedUntil } : {}),
        },
        ...(org.ipAllowList ? { ipAllowList: org.ipAllowList } : {}),
      };
    }
    const order = await orders.byCertificate(s);
    const w = order ? workflows.get(order.workflowId) : undefined;
    if (!order || !w || (order.state !== "HANDED_OUT" && order.state !== "ACTIVE"))
      throw new CaError("unauthorized", "the client certificate is not a handed-out eID", undefined, {
        code: "credential.not-handed-out",
      });
    if (awaitingActivation && order.state !== "HANDED_OUT")
      throw new CaError("unauthorized", "the client certificate is on hold", undefined, {
        code: "credential.not-good",
        params: { status: "on-hold" },
      });
    const person = await directory.person(order.applicantPersonId);
    if (!person || person.unboundAt)
      throw new CaError("unauthorized", "the eID holder is no longer bound to an organisation (REQ-21)", undefined, {
        code: "credential.holder-unbound",
      });
    return {
      actor: {
        kind: "holder",
        personId: person.id,
        humanId: humanIdOf(person.nationalIdHash),
        roles: [],
        organisationId: order.organisationId,
        credentialSerial: s,
        loa: w.loa,
        ...(awaitingActivation ? { credentialOnHold: true } : {}),
      },
    };
  }
}
