import express, { Router, type Request, type Response } from "express";
import type { TLSSocket } from "node:tls";
import { CaError } from "../shared/ca-error.js";
import { orderReference } from "../shared/order-reference.js";
import { addressIn, parseCidrs } from "../shared/cidr.js";
import type { Actor, AuditEvent } from "../ra/order.js";
import type { Onboarding } from "../ra/onboarding.js";
import { personLabel, type PersonNames } from "../ra/person-names.js";
import { languageOfCountry } from "../i18n/languages.js";
import type { DirectoryStore } from "../ra/directory.js";
import type { ActionRequest, OrderService } from "../ra/order-service.js";
import type { RevocationDesk } from "../ra/revocation-desk.js";
import type { ActivationDesk } from "../ra/activation.js";
import type { RoleGrants } from "../ra/role-grants.js";
import type { ApplicantAccess } from "../ra/applicant-access.js";
import type { HolderService } from "../ra/holder-service.js";
import type { OrderView } from "../ra/order.js";
import { JsonStream } from "./json-stream.js";
import { requireJson, validateBody } from "./validation.js";
import { EMPTY_BODY, type Static } from "./schemas/common.schemas.js";
import * as S from "./schemas/ra.schemas.js";
import { raRoute, type Answer, type Auth, type RaRoute } from "./ra-route.js";
import { DELIVERY_ROUTES, type DeliveryDesk } from "./delivery.routes.js";
import { PEOPLE_ROUTES, namedMe, namedOrder, namedOrders, namedTimeline } from "./people.routes.js";
import { clientCertificate } from "./client-certificate.js";

export interface RaApiDeps {
  /** REQ-22: the caller's identity from the verified client certificate (serial + DER), nothing else. */
  readonly resolve: (serial: string, der: Uint8Array) => Promise<{ actor: Actor; ipAllowList?: readonly string[] }>;
  readonly onboarding: Onboarding;
  /**
   * REQ-27: names for entitled callers, each read audited (src/ra/person-names.ts); without it the API shows no names.
   */
  readonly names?: PersonNames;
  /** The directory's reads the named views need (organisations for pickers, the caller's own record). */
  readonly directory?: Pick<DirectoryStore, "organisation" | "organisations" | "person">;
  readonly orders: OrderService;
  readonly desk: RevocationDesk;
  /** REQ-16: activation challenges and the card station's transport PIN records. */
  readonly activation?: ActivationDesk;
  /** REQ-24: pending role grants decided by a second service-owner staff officer. */
  readonly grants?: RoleGrants;
  readonly bodyLimitBytes?: number;
  /** REQ-27: every request and its answer (and every refused one) goes to the audit trail. */
  readonly audit?: (e: AuditEvent) => Promise<void>;
  /**
   * REQ-31: the evidence for one certificate, for the auditor role, scoped to the reader's organisation (REQ-23) and
   * audited (REQ-27).
   */
  readonly evidence?: (serial: string, reader: Actor) => Promise<Answer<typeof S.EVIDENCE>>;
  /**
   * REQ-31: the conformance report for a period (capped by policy), for the auditor role, scoped and audited like
   * evidence.
   */
  readonly report?: (from: Date, to: Date, reader: Actor) => Promise<Answer<typeof S.CONFORMANCE_REPORT>>;
  /** The order's audit entries, for its timeline in the portal. */
  readonly timeline?: (orderId: string) => Promise<Omit<S.TimelineEntry, "actorKind" | "actorLabel" | "actorName">[]>;
  /** The card writer attached to this server (the production station), if any. */
  readonly cardStation?: {
    readers(): Promise<Answer<typeof S.READERS>>;
    personalise(orderId: string, actor: Actor, reader?: string): Promise<Answer<typeof S.PERSONALISED>>;
  };
  /** REQ-15: the outbox's dead letters (the writer's delivery worker). */
  readonly delivery?: DeliveryDesk;
  /** REQ-06: the applicant's single-use links and sessions (the applicant pages). */
  readonly applicant?: ApplicantAccess;
  /** REQ-16/17: the holder pages' cards, activation step, resumption and loss reports. */
  readonly holder?: HolderService;
  /** Fresh ids and the time for the request log. */
  readonly newId?: () => string;
  readonly now?: () => Date;
}

export type { RaRoute } from "./ra-route.js";

const date = (s: string) => new Date(`${s}T23:59:59Z`);
const doc = (d: { type: string; number: string; expires: string }) => ({
  type: d.type,
  number: d.number,
  expires: date(d.expires),
});

function publicKeyFrom(v: string): Uint8Array {
  const m = /-----BEGIN PUBLIC KEY-----([\s\S]+?)-----END PUBLIC KEY-----/.exec(v);
  const der = Buffer.from(m ? m[1]!.replace(/\s+/g, "") : v, "base64");
  if (der.length < 32 || der[0] !== 0x30)
    throw new CaError("invalid-input", "publicKey must be a SubjectPublicKeyInfo, PEM or base64 DER", undefined, {
      code: "request.bad-public-key",
    });
  return new Uint8Array(der);
}

/** REQ-14: a certificate of the card's PIV attestation, base64 DER (or PEM). */
function certificateFrom(v: string, what: string): Uint8Array {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(v);
  const der = Buffer.from(m ? m[1]!.replace(/\s+/g, "") : v, "base64");
  if (der.length < 64 || der[0] !== 0x30)
    throw new CaError("invalid-input", `attestation.${what} must be a certificate, base64 DER or PEM`, undefined, {
      code: "request.bad-attestation",
    });
  return new Uint8Array(der);
}

/** An order as the API shows it: no hashes, no tokens. */
export function orderJson(o: OrderView & { version?: number; workflowId?: string }): S.OrderJson {
  return {
    id: o.id,
    reference: orderReference(o.id),
    state: o.state,
    version: o.version,
    workflow: o.workflowId,
    organisationId: o.organisationId,
    applicantId: o.applicantPersonId,
    purpose: o.purpose,
    profile: o.profileId,
    termsVersion: o.termsVersion,
    registerCheck: o.registerCheck,
    certificateSerial: o.certSerial,
    renewalOf: o.renewalOf,
    handedOutAt: o.handedOutAt,
    approvedAt: o.approvedAt,
    identifications: o.identifications.map((i) => ({
      by: i.officerId,
      at: i.at,
      documentType: i.document.type,
      faceCompared: i.faceCompared,
      byEid: i.byEid === true,
    })),
  };
}

const actionRequest = (b: Static<typeof S.ORDER_ACTION>): ActionRequest => ({
  ...(b.document ? { document: doc(b.document) } : {}),
  ...(b.faceCompared !== undefined ? { faceCompared: b.faceCompared } : {}),
  ...(b.secondIdentification
    ? {
        secondIdentification: {
          document: doc(b.secondIdentification.document),
          faceCompared: b.secondIdentification.faceCompared,
        },
      }
    : {}),
  ...(b.activationCodeChannel ? { activationCodeChannel: b.activationCodeChannel } : {}),
  ...(b.cardChannel ? { cardChannel: b.cardChannel } : {}),
  ...(b.publicKey ? { publicKey: publicKeyFrom(b.publicKey) } : {}),
  ...(b.attestation
    ? {
        attestation: {
          certificate: certificateFrom(b.attestation.certificate, "certificate"),
          intermediate: certificateFrom(b.attestation.intermediate, "intermediate"),
        },
      }
    : {}),
  // A claim only: the card-station fallback is accepted from the in-process card station, never from an API body
  // (REQ-14).
  ...(b.keyOrigin ? { keyOrigin: b.keyOrigin } : {}),
  ...(b.knowledgeAnswers ? { knowledgeAnswers: b.knowledgeAnswers } : {}),
});
const OFFICER_ACTIONS = [
  "identify",
  "approve",
  "start-production",
  "produce",
  "production-failed",
  "hand-out",
  "send-by-mail",
  "reject",
];

/** The RA API (under /api/v1): one table drives both routing and the OpenAPI document. */
export const RA_ROUTES: readonly RaRoute[] = [
  raRoute({
    method: "get",
    path: "/me",
    summary: "Who the client certificate says you are: with your name, label and organisation",
    auth: "officer",
    response: S.ME,
    handle: async ({ actor }, d) => namedMe(d, actor),
  }),
  raRoute({
    method: "get",
    path: "/workflows",
    summary: "The LoA workflows: accepted documents, identifications, control questions",
    auth: "officer",
    response: S.WORKFLOWS,
    handle: async (_c, d) => d.orders.workflowSummaries(),
  }),
  raRoute({
    method: "get",
    path: "/audit/report",
    summary: "The conformance report for a period (?from=YYYY-MM-DD&to=YYYY-MM-DD), for auditors",
    auth: "officer",
    response: S.CONFORMANCE_REPORT,
    roles: ["auditor"],
    handle: async ({ actor, query }, d) => {
      if (!d.report)
        throw new CaError("not-found", "the conformance report is not served here", undefined, {
          code: "service.not-here",
          params: { what: "report" },
        });
      const from = new Date(`${query.from ?? ""}T00:00:00Z`),
        to = new Date(`${query.to ?? ""}T00:00:00Z`);
      if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || to <= from)
        throw new CaError("invalid-input", "from and to are dates (YYYY-MM-DD), to after from", undefined, {
          code: "audit.report-dates",
        });
      return new JsonStream(await d.report(from, to, actor)); // streamed: a long period is a large answer
    },
  }),
  raRoute({
    method: "get",
    path: "/audit/evidence/:serial",
    summary: "The story of one certificate and a verdict per policy rule, for auditors (REQ-31)",
    auth: "officer",
    response: S.EVIDENCE,
    roles: ["auditor"],
    handle: async ({ actor, params }, d) => {
      if (!d.evidence)
        throw new CaError("not-found", "audit evidence is not served here", undefined, {
          code: "service.not-here",
          params: { what: "evidence" },
        });
      return d.evidence(params.serial!, actor);
    },
  }),
  raRoute({
    method: "post",
    path: "/organisations",
    summary: "Register a customer organisation (pending until onboarded, REQ-01)",
    auth: "officer",
    response: S.ORGANISATION,
    roles: ["service-owner-staff"],
    status: 201,
    body: S.REGISTER_ORGANISATION,
    handle: ({ actor, body }, d) => d.onboarding.registerOrganisation(actor, body),
  }),
  raRoute({
    method: "get",
    path: "/organisations/:id",
    summary: "An organisation",
    auth: "officer",
    response: S.ORGANISATION,
    handle: ({ actor, params }, d) => d.onboarding.organisation(actor, params.id!),
  }),
  raRoute({
    method: "post",
    path: "/organisations/:id/onboarding",
    summary: "Record the registration certificate and/or domain validation (REQ-01)",
    auth: "officer",
    response: S.ORGANISATION,
    roles: ["service-owner-staff"],
    body: S.ONBOARDING_EVIDENCE,
    handle: ({ actor, params, body }, d) => d.onboarding.recordOnboardingEvidence(actor, params.id!, body),
  }),
  raRoute({
    method: "put",
    path: "/organisations/:id/ip-allow-list",
    summary: "Set (or clear with null) the organisation's IP allow-list (REQ-23)",
    auth: "officer",
    response: S.IP_ALLOW_LIST_SET,
    roles: ["ra-admin", "service-owner-staff"],
    body: S.IP_ALLOW_LIST,
    handle: async ({ actor, params, body }, d) => (
      await d.onboarding.setIpAllowList(actor, params.id!, body.cidrs),
      { cidrs: body.cidrs }
    ),
  }),
  raRoute({
    method: "post",
    path: "/organisations/:id/people",
    summary: "Bind a natural person to the organisation (REQ-21)",
    auth: "officer",
    response: S.BOUND_PERSON,
    roles: ["ra-admin", "service-owner-staff"],
    status: 201,
    body: S.BIND_PERSON,
    handle: async ({ actor, params, body }, d) => {
      const p = await d.onboarding.bindPerson(actor, params.id!, body);
      return {
        id: p.id,
        organisationId: p.organisationId,
        label: personLabel(p.id),
        name: p.name,
        email: p.email,
        phone: p.phone,
        postalAddress: p.postalAddress,
        language: p.language ?? languageOfCountry((await d.directory?.organisation(p.organisationId))?.country),
        ...(p.birthDate ? { birthDate: p.birthDate } : {}),
        ...(p.nationalIdMasked ? { nationalIdMasked: p.nationalIdMasked } : {}),
      };
    },
  }),
  raRoute({
    method: "delete",
    path: "/people/:id/binding",
    summary:
      "Remove a person's binding; their certificates are revoked (REQ-21); beyond " +
      "the mass-revocation thresholds 202 and a second officer approves (REQ-18)",
    auth: "officer",
    response: S.UNBIND,
    roles: ["ra-admin", "service-owner-staff"],
    handle: async ({ actor, params, status }, d) => {
      const r = await d.onboarding.unbindPerson(actor, params.id!);
      if ("pending" in r) status(202);
      return r;
    },
  }),
  raRoute({
    method: "put",
    path: "/people/:id/officer",
    summary:
      "Appoint an officer by policies/roles.yaml: roles and identity-proofing " +
      "qualification (REQ-24, REQ-25); 202 when a second staff officer must approve",
    auth: "officer",
    response: S.APPOINTMENT,
    roles: ["ra-admin", "service-owner-staff"],
    body: S.APPOINT_OFFICER,
    handle: async ({ actor, params, body, status }, d) => {
      const r = await d.onboarding.appointOfficer(actor, params.id!, {
        roles: body.roles,
        ...(body.qualification ? { qualification: body.qualification } : {}),
        ...(body.qualifiedUntil ? { qualifiedUntil: date(body.qualifiedUntil) } : {}),
      });
      if ("status" in r && r.status === "pending") status(202);
      return r;
    },
  }),
  raRoute({
    method: "get",
    path: "/role-grants",
    summary: "Role grants waiting for a second service-owner staff officer (REQ-24)",
    auth: "officer",
    response: S.ROLE_GRANTS,
    roles: ["service-owner-staff"],
    handle: ({ actor }, d) => grantsOf(d).pending(actor),
  }),
  raRoute({
    method: "post",
    path: "/role-grants/:id/approve",
    summary: "Approve another staff officer's role grant (REQ-24)",
    auth: "officer",
    response: S.ROLE_GRANT,
    roles: ["service-owner-staff"],
    body: EMPTY_BODY,
    handle: ({ actor, params }, d) => grantsOf(d).decide(actor, params.id!, true),
  }),
  raRoute({
    method: "post",
    path: "/role-grants/:id/refuse",
    summary: "Refuse another staff officer's role grant",
    auth: "officer",
    response: S.ROLE_GRANT,
    roles: ["service-owner-staff"],
    body: EMPTY_BODY,
    handle: ({ actor, params }, d) => grantsOf(d).decide(actor, params.id!, false),
  }),
  raRoute({
    method: "post",
    path: "/orders",
    summary: "Order a card for a bound person; the register is checked (REQ-07)",
    auth: "officer",
    response: S.NAMED_ORDER,
    roles: ["ra-officer"],
    status: 201,
    body: S.CREATE_ORDER,
    handle: async ({ actor, body }, d) => {
      const { organisationId, ...rest } = body;
      const o = await d.orders.create(actor, {
        ...rest,
        personId: body.personId ?? (await d.orders.personByNationalId(actor, body.nationalId, organisationId)),
      });
      return namedOrder(d, actor, orderJson(o), o, "POST /api/v1/orders");
    },
  }),
  raRoute({
    method: "get",
    path: "/orders",
    summary: "My work queue: open orders in my scope with the actions I may take on each",
    auth: "officer",
    response: S.WORK_QUEUE,
    roles: ["ra-officer", "ca-operator", "ra-admin"],
    handle: async ({ actor }, d) =>
      namedOrders(
        d,
        actor,
        (await d.orders.queue(actor)).map(({ order, actions }) => ({
          json: { ...orderJson(order), actions },
          view: order,
        })),
        "GET /api/v1/orders",
      ),
  }),
  raRoute({
    method: "get",
    path: "/orders/:id",
    summary: "An order, with the actions I may take on it",
    auth: "officer",
    response: S.NAMED_ORDER_WITH_ACTIONS,
    handle: async ({ actor, params }, d) => {
      const o = await d.orders.view(actor, params.id!);
      return namedOrder(
        d,
        actor,
        { ...orderJson(o), actions: d.orders.actionsFor(actor, o) },
        o,
        `GET /api/v1/orders/${o.id}`,
      );
    },
  }),
  raRoute({
    method: "get",
    path: "/orders/:id/timeline",
    summary: "The order's audit trail entries, oldest first",
    auth: "officer",
    response: S.TIMELINE,
    handle: async ({ actor, params }, d) => {
      await d.orders.view(actor, params.id!); // scope check
      return d.timeline
        ? namedTimeline(d, actor, await d.timeline(params.id!), `GET /api/v1/orders/${params.id}/timeline`)
        : [];
    },
  }),
  raRoute({
    method: "get",
    path: "/card-station/readers",
    summary: "The PC/SC readers of the card production station attached to this server",
    auth: "officer",
    response: S.READERS,
    roles: ["ca-operator"],
    handle: async (_c, d) => {
      if (!d.cardStation)
        throw new CaError("not-found", "no card production station is attached to this server", undefined, {
          code: "service.not-here",
          params: { what: "cardStation" },
        });
      return d.cardStation.readers();
    },
  }),
  raRoute({
    method: "post",
    path: "/orders/:id/personalise",
    summary: "Personalise the card in the station's reader for this order (on-card key, certificate, PIN; REQ-12..16)",
    auth: "officer",
    response: S.PERSONALISED,
    roles: ["ca-operator"],
    body: S.PERSONALISE,
    handle: async ({ actor, params, body }, d) => {
      if (!d.cardStation)
        throw new CaError("not-found", "no card production station is attached to this server", undefined, {
          code: "service.not-here",
          params: { what: "cardStation" },
        });
      return d.cardStation.personalise(params.id!, actor, body.reader);
    },
  }),
  raRoute({
    method: "post",
    path: "/orders/:id/actions/:action",
    summary: `An officer's step on an order: ${OFFICER_ACTIONS.join(", ")} (guards per the LoA workflow)`,
    auth: "officer",
    response: S.ORDER_STEP,
    roles: ["ra-officer", "ca-operator"],
    body: S.ORDER_ACTION,
    handle: async ({ actor, params, body }, d) => {
      if (!OFFICER_ACTIONS.includes(params.action!))
        throw new CaError(
          "not-found",
          `no officer action '${params.action}' (${OFFICER_ACTIONS.join(", ")})`,
          undefined,
          { code: "order.unknown-action", params: { action: params.action! } },
        );
      const o = await d.orders.act(params.id!, params.action!, actor, actionRequest(body));
      // Production answers with the certificate for the card (base64 DER), on hold until activation (REQ-16).
      return {
        ...(await namedOrder(d, actor, orderJson(o), o, `POST /api/v1/orders/${o.id}/actions/${params.action}`)),
        ...(o.issued ? { certificate: Buffer.from(o.issued.der).toString("base64") } : {}),
      };
    },
  }),
  raRoute({
    method: "post",
    path: "/orders/:id/transport-pin-replaced",
    summary:
      "The card station records that the holder replaced the transport PIN on the card of a handed-out order (REQ-16)",
    auth: "officer",
    response: S.PIN_REPLACEMENT,
    roles: ["ca-operator", "ra-officer"],
    body: S.PIN_REPLACED,
    handle: async ({ actor, params, body }, d) =>
      activationDesk(d).recordPinReplacement(actor, params.id!, body.cardSerial ? { cardSerial: body.cardSerial } : {}),
  }),
  raRoute({
    method: "get",
    path: "/certificates/:serial",
    summary: "A card certificate of my organisation: status and holder",
    auth: "officer",
    response: S.CERTIFICATE_LOOKUP,
    roles: ["ra-officer", "ra-admin", "auditor"],
    handle: ({ actor, params }, d) => d.desk.lookup(actor, params.serial!),
  }),
  raRoute({
    method: "post",
    path: "/certificates/:serial/revoke",
    summary:
      "Revoke or suspend (certificateHold) a card of your organisation; mass " +
      "revocation needs a second officer (REQ-17/18)",
    auth: "officer",
    response: S.REVOCATION_REQUEST,
    roles: ["ra-officer", "ra-admin"],
    body: S.OFFICER_REVOKE,
    handle: ({ actor, params, body }, d) => d.desk.officerRequest(actor, params.serial!, body.reason),
  }),
  raRoute({
    method: "post",
    path: "/certificates/:serial/resume",
    summary: "Lift a suspension; one the holder asked for waits (202) for a second officer or the holder (REQ-18)",
    auth: "officer",
    response: S.RESUME,
    roles: ["ra-officer", "ra-admin"],
    body: EMPTY_BODY,
    handle: async ({ actor, params, status }, d) => {
      const r = await d.desk.resume(actor, params.serial!);
      if (r.status !== "good") status(202);
      return r;
    },
  }),
  raRoute({
    method: "get",
    path: "/revocation-requests",
    summary: "Revocation requests waiting for a second officer",
    auth: "officer",
    response: S.REVOCATION_REQUESTS,
    roles: ["ra-officer", "ra-admin"],
    handle: ({ actor, query }, d) => d.desk.pending(actor, query.organisationId),
  }),
  raRoute({
    method: "post",
    path: "/revocation-requests/:id/approve",
    summary: "Approve another officer's held request (REQ-18)",
    auth: "officer",
    response: S.REVOCATION_REQUEST,
    roles: ["ra-officer", "ra-admin"],
    body: EMPTY_BODY,
    handle: ({ actor, params }, d) => d.desk.decide(actor, params.id!, true),
  }),
  raRoute({
    method: "post",
    path: "/revocation-requests/:id/refuse",
    summary: "Refuse another officer's held request",
    auth: "officer",
    response: S.REVOCATION_REQUEST,
    roles: ["ra-officer", "ra-admin"],
    body: EMPTY_BODY,
    handle: ({ actor, params }, d) => d.desk.decide(actor, params.id!, false),
  }),
  raRoute({
    method: "get",
    path: "/holder/cards",
    summary: "My cards and orders: the status of each certificate and the steps open to me (holder pages)",
    auth: "holder",
    response: S.HOLDER_CARDS,
    handle: ({ actor }, d) => holderService(d).cards(actor),
  }),
  raRoute({
    method: "get",
    path: "/holder/activation",
    summary:
      "The activation step of the card I signed in with: pending or not, deadline, activation code needed (REQ-15/16)",
    auth: "holder",
    response: S.PENDING_ACTIVATION,
    allowHeldCredential: true,
    handle: ({ actor }, d) => holderService(d).activation(actor),
  }),
  raRoute({
    method: "post",
    path: "/holder/cards/:serial/suspend",
    summary: "The holder suspends their own card (REQ-17), rate-limited (REQ-18)",
    auth: "holder",
    response: S.REVOCATION_REQUEST,
    body: EMPTY_BODY,
    handle: ({ actor, params }, d) => d.desk.holderRequest(actor, params.serial!, "certificateHold"),
  }),
  raRoute({
    method: "post",
    path: "/holder/cards/:serial/revoke",
    summary: "The holder revokes their own card (REQ-17), rate-limited (REQ-18)",
    auth: "holder",
    response: S.REVOCATION_REQUEST,
    body: S.HOLDER_REVOKE,
    handle: ({ actor, params, body }, d) => d.desk.holderRequest(actor, params.serial!, body.reason ?? "unspecified"),
  }),
  raRoute({
    method: "get",
    path: "/holder/orders/:id/activation-challenge",
    summary: "A fresh challenge for the card to sign at activation (REQ-16); the card's certificate is still on hold",
    auth: "holder",
    response: S.ACTIVATION_CHALLENGE,
    allowHeldCredential: true,
    handle: async ({ actor, params }, d) => activationDesk(d).challenge(actor, params.id!),
  }),
  raRoute({
    method: "post",
    path: "/holder/cards/:serial/resume",
    summary:
      "The holder lifts the suspension of another card of theirs (REQ-17), " +
      "rate-limited (REQ-18); a card never activated is released only by activation",
    auth: "holder",
    response: S.REVOCATION_REQUEST,
    body: EMPTY_BODY,
    handle: ({ actor, params }, d) => holderService(d).resume(actor, params.serial!),
  }),
  raRoute({
    method: "post",
    path: "/holder/cards/:serial/lost",
    summary:
      "The holder reports a card lost or stolen: revoked keyCompromise, the card " +
      "barred for good (REQ-17/19), rate-limited (REQ-18)",
    auth: "holder",
    response: S.CARD_LOST,
    body: EMPTY_BODY,
    handle: ({ actor, params }, d) => holderService(d).lost(actor, params.serial!),
  }),
  raRoute({
    method: "post",
    path: "/holder/orders/:id/activate",
    summary:
      "Activate a handed-out card with the card itself: its signature over the " +
      "activation challenge (REQ-16) and, at LoA2, the activation code (REQ-15); " +
      "lifts the hold",
    auth: "holder",
    response: S.ORDER,
    allowHeldCredential: true,
    body: S.ACTIVATE,
    handle: async ({ actor, params, body }, d) =>
      orderJson(
        await d.orders.act(params.id!, "activate", actor, {
          ...(body.activationCode ? { activationCode: body.activationCode } : {}),
          ...(body.challengeSignature
            ? {
                challengeSignature: new Uint8Array(
                  Buffer.from(
                    body.challengeSignature,
                    body.challengeSignature.includes("-") || body.challengeSignature.includes("_")
                      ? "base64url"
                      : "base64",
                  ),
                ),
              }
            : {}),
        }),
      ),
  }),
  raRoute({
    method: "post",
    path: "/holder/renewals",
    summary: "Order a new card on the strength of this valid eID (REQ-11)",
    auth: "holder",
    response: S.ORDER,
    status: 201,
    body: S.RENEWAL,
    handle: async ({ actor, body }, d) => orderJson(await d.orders.renew(actor, body)),
  }),
  raRoute({
    method: "post",
    path: "/holder/orders/:id/identify-by-eid",
    summary: "Identify a renewal order with the eID it stands on (REQ-11)",
    auth: "holder",
    response: S.ORDER,
    body: EMPTY_BODY,
    handle: async ({ actor, params }, d) => orderJson(await d.orders.act(params.id!, "identify-by-eid", actor, {})),
  }),
  raRoute({
    method: "post",
    path: "/applicant/orders/:id/accept-terms",
    summary:
      "The applicant accepts the terms with the token sent to them (REQ-06, single " +
      "use: a used or expired token is refused); no client certificate",
    auth: "applicant",
    response: S.ORDER,
    body: S.APPLICANT_TOKEN_TERMS,
    handle: async ({ actor, params, body, ip }, d) =>
      orderJson(
        d.applicant
          ? await d.applicant.actWithToken(
              params.id!,
              "accept-terms",
              body.token,
              { termsVersion: body.termsVersion, accepted: body.accepted },
              ip,
            )
          : await d.orders.act(params.id!, "accept-terms", actor, {
              applicantToken: body.token,
              termsVersion: body.termsVersion,
              accepted: body.accepted,
            }),
      ),
  }),
  raRoute({
    method: "post",
    path: "/applicant/orders/:id/cancel",
    summary: "The applicant withdraws the order",
    auth: "applicant",
    response: S.ORDER,
    body: S.APPLICANT_TOKEN,
    handle: async ({ actor, params, body, ip }, d) =>
      orderJson(
        d.applicant
          ? await d.applicant.actWithToken(params.id!, "cancel", body.token, {}, ip)
          : await d.orders.act(params.id!, "cancel", actor, { applicantToken: body.token }),
      ),
  }),
  ...DELIVERY_ROUTES,
  ...PEOPLE_ROUTES,
];

const activationDesk = (d: RaApiDeps): ActivationDesk => {
  if (!d.activation)
    throw new CaError("not-found", "card activation is not served here", undefined, {
      code: "service.not-here",
      params: { what: "activation" },
    });
  return d.activation;
};

function grantsOf(d: RaApiDeps): RoleGrants {
  if (!d.grants)
    throw new CaError("not-found", "role grants are not served here", undefined, {
      code: "service.not-here",
      params: { what: "roleGrants" },
    });
  return d.grants;
}

/** REQ-24: the route table's roles, checked for every request before the handler runs (one place, not per handler). */
export function requireRouteRoles(actor: Actor, route: Pick<RaRoute, "method" | "path" | "roles">): void {
  if (!route.roles) return;
  if (!route.roles.some((r) => actor.roles.includes(r)))
    throw new CaError(
      "forbidden",
      `${route.method.toUpperCase()} ${route.path} needs the role ${route.roles.join(" or ")} (route-roles, REQ-24)`,
      { rule: "route-roles", requirement: "REQ-24" },
      { code: "access.needs-role", params: { roles: route.roles } },
    );
}

const holderService = (d: RaApiDeps) => {
  if (!d.holder)
    throw new CaError("not-found", "the holder pages are not served here", undefined, {
      code: "service.not-here",
      params: { what: "holder" },
    });
  return d.holder;
};

/**
 * REQ-22: the identity of the caller comes from the TLS layer only; every header is ignored.
 * REQ-16: a card certificate on hold awaiting activation is accepted only where the route allows it.
 */
export async function authenticate(
  req: Request,
  auth: Auth,
  deps: RaApiDeps,
  route?: Pick<RaRoute, "allowHeldCredential">,
): Promise<Actor> {
  if (auth === "applicant") return { kind: "applicant", roles: [] };
  const sock = req.socket as TLSSocket;
  if (typeof sock.getPeerCertificate !== "function")
    throw new CaError("unauthorized", "the RA API is served over HTTPS with client certificates only", undefined, {
      code: "credential.https-only",
    });
  const peer = sock.getPeerCertificate(false);
  if (!peer || !peer.raw)
    throw new CaError("unauthorized", "a client certificate is required (REQ-22)", undefined, {
      code: "credential.missing",
    });
  if (!sock.authorized)
    throw new CaError(
      "unauthorized",
      `the client certificate was not accepted: ${String(sock.authorizationError ?? "unknown issuer")}`,
      undefined,
      { code: "credential.not-accepted" },
    );
  const cert = clientCertificate(sock)!;
  const { actor, ipAllowList } = await deps.resolve(cert.serial, cert.der);
  if (actor.credentialOnHold && !route?.allowHeldCredential)
    throw new CaError(
      "forbidden",
      "this card is on hold until its holder activates it: activate it first; it " +
        "is accepted for the activation only (REQ-16)",
      { requirement: "REQ-16" },
      { code: "credential.awaiting-activation" },
    );
  if (actor.kind !== auth)
    throw new CaError(
      "forbidden",
      auth === "holder"
        ? "this endpoint is for eID holders"
        : "this endpoint is for officers (an ra-officer client certificate)",
      undefined,
      { code: "access.wrong-caller", params: { kindOfCaller: auth } },
    );
  // The client IP as the socket saw it (a forwarded-for header is never trusted).
  if (ipAllowList && ipAllowList.length > 0 && !addressIn(parseCidrs(ipAllowList), req.socket.remoteAddress))
    throw new CaError(
      "forbidden",
      `calls for this organisation are allowed only from its listed networks ` +
        `(REQ-23); this one came from ${req.socket.remoteAddress}`,
      undefined,
      { code: "scope.ip-not-allowed" },
    );
  return actor;
}

export function raRoutes(deps: RaApiDeps): Router {
  const r = Router();
  // REQ-27: requests are audited by requestAudit in front of this router (ra-server.ts), refused ones included.
  r.use(requireJson);
  r.use(express.json({ limit: deps.bodyLimitBytes ?? 32 * 1024, strict: true }));
  for (const route of RA_ROUTES) {
    r[route.method](route.path, async (req: Request, res: Response) => {
      await serve(route, req, res);
    });
  }
  async function serve(route: RaRoute, req: Request, res: Response): Promise<void> {
    const actor = await authenticate(req, route.auth, deps, route);
    res.locals.actor = actor;
    // A portal session serves the routes of its kind only (the officers' portal or the holder pages).
    if (res.locals.sessionKind !== undefined && res.locals.sessionKind !== route.auth)
      throw new CaError(
        "forbidden",
        `this session was opened on the ` +
          `${res.locals.sessionKind === "holder" ? "holder pages" : "officers' portal"}; ` +
          `sign in there for this step`,
        undefined,
        { code: "session.other-pages", params: { pages: res.locals.sessionKind === "holder" ? "holder" : "portal" } },
      );
    // REQ-16: a card held until activation may only be activated.
    if (actor.credentialOnHold && !route.allowHeldCredential)
      throw new CaError(
        "forbidden",
        "this card is on hold until it is activated: activate it first (REQ-16)",
        { requirement: "REQ-16" },
        { code: "credential.awaiting-activation" },
      );
    requireRouteRoles(actor, route);
    const params = req.params as Record<string, string>;
    if (params.id !== undefined && !/^[0-9a-f]{32}$/.test(params.id))
      throw new CaError("invalid-input", `'${params.id}' is not an id (32 hexadecimal digits)`, undefined, {
        code: "request.bad-id",
      });
    if (params.serial !== undefined && !/^[0-9a-fA-F]{2,64}$/.test(params.serial))
      throw new CaError("invalid-input", `'${params.serial}' is not a hexadecimal serial number`, undefined, {
        code: "request.bad-serial",
      });
    const body = req.body === undefined ? {} : req.body;
    if (route.body) validateBody(route.body, body);
    else if (req.headers["content-length"] && req.headers["content-length"] !== "0")
      throw new CaError("invalid-input", `${route.method.toUpperCase()} ${route.path} takes no body`, undefined, {
        code: "request.no-body-expected",
      });
    let code = route.status ?? 200;
    const out = await route.handle(
      {
        actor,
        params,
        body,
        query: req.query as Record<string, string | undefined>,
        ip: req.socket.remoteAddress ?? "",
        status: (c) => void (code = c),
      },
      deps,
    );
    if (out instanceof JsonStream) return out.pipeTo(res, code);
    res.status(code).json(out);
  }
  return r;
}
