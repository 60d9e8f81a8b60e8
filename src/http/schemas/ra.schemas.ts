import { Type, type Static } from "@sinclair/typebox";
import {
  ACTOR,
  Any,
  Body,
  CHANNEL,
  DAY,
  DOCUMENT,
  DateTime,
  Enum,
  ID,
  NATIONAL_ID,
  Out,
  PHONE,
  POSTAL_ADDRESS,
  ROLE,
  opt,
  str,
  type Answer,
} from "./common.schemas.js";

/** The RA API's request bodies and answers (src/http/ra.routes.ts), each defined once. */

// ---- request bodies ----------------------------------------------------------------------------

export const REGISTER_ORGANISATION = Body({
  orgNumber: str(32, "^[0-9A-Z-]{4,32}$"),
  name: str(64),
  country: str(2, "^[A-Z]{2}$"),
  registrationCertificate: opt(str(256)),
});
export const ONBOARDING_EVIDENCE = Body({
  registrationCertificate: opt(str(256)),
  domain: opt(str(253, "^[a-z0-9.-]+$")),
  domainValidationMethod: opt(Enum(["dns-txt", "http-token", "email-to-admin"])),
});
/** REQ-23: the CIDRs, or null to clear the list. */
export const IP_ALLOW_LIST = Body({
  cidrs: Type.Union([Type.Array(str(43), { maxItems: 64 }), Type.Null()]),
});
export const BIND_PERSON = Body({
  nationalId: NATIONAL_ID,
  name: str(64),
  email: opt(str(128, "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$")),
  phone: opt(PHONE),
  postalAddress: opt(POSTAL_ADDRESS),
  language: opt(Enum(["en", "sv", "da"])),
});
export const APPOINT_OFFICER = Body({
  roles: Type.Array(ROLE, { minItems: 1, maxItems: 5, uniqueItems: true }),
  qualification: opt(str(128)),
  qualifiedUntil: opt(DAY),
});
export const CREATE_ORDER = Body({
  personId: opt(ID),
  organisationId: opt(ID),
  workflowId: str(64, "^[a-z0-9-]+$"),
  nationalId: NATIONAL_ID,
  purpose: opt(Enum(["holder", "officer"])),
});
export const PERSONALISE = Body({ reader: opt(str(128)) });
/** An officer's step on an order: the fields the step's guards ask for (the LoA workflow). */
export const ORDER_ACTION = Body({
  document: opt(DOCUMENT),
  faceCompared: opt(Type.Boolean()),
  secondIdentification: opt(Body({ document: DOCUMENT, faceCompared: Type.Boolean() })),
  activationCodeChannel: opt(CHANNEL),
  cardChannel: opt(CHANNEL),
  publicKey: opt(str(4096)),
  // REQ-14: the card's PIV attestation of the key (the slot's attestation certificate and the card's f9 certificate).
  attestation: opt(Body({ certificate: str(8192), intermediate: str(8192) })),
  keyOrigin: opt(Enum(["card-station"])),
  knowledgeAnswers: opt(
    Type.Record(Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,39}$" }), Type.Boolean(), {
      maxProperties: 20,
    }),
  ),
});
export const PIN_REPLACED = Body({ cardSerial: opt(str(64, "^[0-9A-Za-z-]+$")) });
export const OFFICER_REVOKE = Body({ reason: str(32) });
export const HOLDER_REVOKE = Body({ reason: opt(str(32)) });
export const ACTIVATE = Body({
  activationCode: opt(str(32, "^[A-Za-z0-9]+$")),
  challengeSignature: opt(str(1024, "^[A-Za-z0-9+/_=-]+$")),
});
export const RENEWAL = Body({ workflowId: str(64, "^[a-z0-9-]+$"), nationalId: NATIONAL_ID });
export const APPLICANT_TOKEN_TERMS = Body({
  token: str(64, "^[A-Za-z0-9]+$"),
  termsVersion: str(32),
  accepted: Type.Boolean(),
});
export const APPLICANT_TOKEN = Body({ token: str(64, "^[A-Za-z0-9]+$") });

// ---- answers -----------------------------------------------------------------------------------

export const ME = Type.Composite([
  ACTOR,
  Out({
    label: opt(Type.String()),
    name: opt(Type.String()),
    language: opt(Type.String()),
    organisation: opt(Out({ id: Type.String(), name: Type.String(), country: Type.String() })),
  }),
]);
export const WORKFLOWS = Type.Array(
  Out({
    id: Type.String(),
    version: Type.Number(),
    loa: Type.Number(),
    identifications: Type.Number(),
    acceptedDocuments: Type.Array(Type.String()),
    knowledgeQuestions: opt(Any),
    pin: Type.String(),
  }),
);
/** REQ-31: the conformance report (src/audit/report.ts); its sections are documented there. */
export const CONFORMANCE_REPORT = Out({
  period: Out({ from: Type.String(), to: Type.String() }),
  generatedAt: Type.String(),
  auditTrail: Any,
  issued: Out({
    total: Type.Number(),
    byProfile: Type.Record(Type.String(), Type.Number()),
    byLoa: Type.Record(Type.String(), Type.Number()),
  }),
  violations: Type.Array(
    Out({
      serial: Type.String(),
      rule: Type.String(),
      requirement: Type.String(),
      cps: Type.String(),
      detail: Type.String(),
    }),
  ),
  revocations: Any,
  officerActivity: Any,
  crls: Any,
  ceremonies: Any,
  requirements: Any,
  separation: Any,
  verdict: Enum(["conformant", "findings"]),
});
/** REQ-31: one certificate's story and a verdict per policy rule (src/audit/evidence.ts). */
export const EVIDENCE = Out({
  certificate: Any,
  order: opt(Any),
  card: opt(Any),
  keyOrigin: opt(Any),
  separation: opt(Any),
  story: Type.Array(Any),
  verdicts: Type.Array(Any),
  verdict: Enum(["pass", "fail"]),
});
export const ORGANISATION = Out({
  id: Type.String(),
  orgNumber: Type.String(),
  name: Type.String(),
  country: Type.String(),
  registrationCertificate: opt(Type.String()),
  domain: opt(Type.String()),
  domainValidatedAt: opt(DateTime),
  status: Enum(["pending", "active", "ceased"]),
  ipAllowList: opt(Type.Array(Type.String())),
  serviceOwner: Type.Boolean(),
});
export const IP_ALLOW_LIST_SET = Out({ cidrs: Type.Union([Type.Array(Type.String()), Type.Null()]) });
export const BOUND_PERSON = Out({
  id: Type.String(),
  organisationId: Type.String(),
  label: Type.String(),
  name: Type.String(),
  email: opt(Type.String()),
  phone: opt(Type.String()),
  postalAddress: opt(Type.String()),
  language: opt(Type.String()),
  birthDate: opt(Type.String()),
  nationalIdMasked: opt(Type.String()),
});
export const REVOCATION_REQUEST = Out({
  id: Type.String(),
  kind: Enum(["revoke", "resume", "unbind"]),
  serial: Type.String(),
  reason: Type.String(),
  organisationId: Type.String(),
  channel: Enum(["holder", "officer"]),
  requestedBy: Type.String(),
  requestedByHuman: opt(Type.String()),
  personId: opt(Type.String()),
  requestedAt: DateTime,
  status: Enum(["done", "pending", "approved", "refused"]),
  decidedBy: opt(Type.String()),
  decidedAt: opt(DateTime),
});
/** REQ-21: the revoked certificates, or (REQ-18, 202) the request waiting for a second officer. */
export const UNBIND = Type.Union([Out({ revoked: Type.Array(Type.String()) }), Out({ pending: REVOCATION_REQUEST })]);
export const ROLE_GRANT = Out({
  id: Type.String(),
  personId: Type.String(),
  organisationId: Type.String(),
  roles: Type.Array(ROLE),
  qualification: opt(Type.String()),
  qualifiedUntil: opt(DateTime),
  requestedBy: Type.String(),
  requestedByHuman: Type.String(),
  requestedAt: DateTime,
  status: Enum(["pending", "approved", "refused"]),
  decidedBy: opt(Type.String()),
  decidedAt: opt(DateTime),
});
export const OFFICER = Out({
  personId: Type.String(),
  roles: Type.Array(ROLE),
  qualification: opt(Type.String()),
  qualifiedUntil: opt(DateTime),
  serviceOwnerStaff: Type.Boolean(),
});
/** REQ-24: the officer as appointed, or (202) the grant waiting for a second staff officer. */
export const APPOINTMENT = Type.Union([OFFICER, ROLE_GRANT]);
/** An order as the API shows it: no hashes, no tokens. */
export const ORDER = Out({
  id: Type.String(),
  reference: Type.String(),
  state: Type.String(),
  version: opt(Type.Number()),
  workflow: opt(Type.String()),
  organisationId: Type.String(),
  applicantId: Type.String(),
  purpose: Enum(["holder", "officer"]),
  profile: Type.String(),
  termsVersion: opt(Type.String()),
  registerCheck: opt(Out({ ok: Type.Boolean(), at: DateTime })),
  certificateSerial: opt(Type.String()),
  renewalOf: opt(Type.String()),
  handedOutAt: opt(DateTime),
  approvedAt: opt(DateTime),
  identifications: Type.Array(
    Out({
      by: Type.String(),
      at: DateTime,
      documentType: Type.String(),
      faceCompared: Type.Boolean(),
      byEid: Type.Boolean(),
    }),
  ),
});
/** A name where the reader is entitled to it, else only the label (REQ-27). */
const WHO = { label: Type.String(), name: opt(Type.String()) };
/** What people read besides the order (http/people.routes.ts namedOrders): names or labels, the organisation's name. */
export const ORDER_NAMES = Out({
  organisation: Out({ id: Type.String(), name: opt(Type.String()) }),
  applicant: Out({
    id: Type.String(),
    ...WHO,
    birthDate: opt(Type.String()),
    nationalIdMasked: opt(Type.String()),
  }),
  identifications: Type.Array(
    Out({
      by: Type.String(),
      byLabel: Type.String(),
      byName: opt(Type.String()),
      at: DateTime,
      documentType: Type.String(),
      faceCompared: Type.Boolean(),
      byEid: Type.Boolean(),
    }),
  ),
  actors: Type.Array(Out({ action: Type.String(), at: DateTime, ...WHO })),
});
export const ORDER_ACTIONS = Type.Array(
  Out({ action: Type.String(), to: Type.String(), needs: Type.Array(Type.String()) }),
);
const ORDER_BASE = Type.Omit(ORDER, ["identifications"]);
export const NAMED_ORDER = Type.Composite([ORDER_BASE, ORDER_NAMES]);
export const NAMED_ORDER_WITH_ACTIONS = Type.Composite([ORDER_BASE, ORDER_NAMES, Out({ actions: ORDER_ACTIONS })]);
export const WORK_QUEUE = Type.Array(NAMED_ORDER_WITH_ACTIONS);
/** Production answers with the card's certificate (base64 DER), on hold until activation (REQ-16). */
export const ORDER_STEP = Type.Composite([ORDER_BASE, ORDER_NAMES, Out({ certificate: opt(Type.String()) })]);
export const TIMELINE = Type.Array(
  Out({
    at: Type.Number({ description: "milliseconds since the epoch (UTC)" }),
    actor: Type.String(),
    action: Type.String(),
    outcome: Type.String(),
    policy: Type.Union([Type.String(), Type.Null()]),
    actorKind: Type.String(),
    actorLabel: opt(Type.String()),
    actorName: opt(Type.String()),
  }),
);
export const TIMELINE_ENTRY = TIMELINE.items;
export const READERS = Type.Array(Out({ name: Type.String(), cardPresent: Type.Boolean(), atr: opt(Type.String()) }));
export const PERSONALISED = Out({
  cardId: Type.String(),
  cardSerial: Type.String(),
  certSerial: Type.String(),
  slot: Type.String(),
  algorithm: Type.String(),
  pinState: Enum(["transport", "delivered"]),
  roundTrips: Type.Number(),
  keyAttested: Type.Boolean(),
  steps: Type.Array(Type.String()),
});
export const PIN_REPLACEMENT = Out({
  orderId: Type.String(),
  certSerial: Type.String(),
  cardSerial: opt(Type.String()),
  at: DateTime,
  recordedBy: Type.String(),
});
export const CERTIFICATE_LOOKUP = Out({
  serial: Type.String(),
  status: Type.String(),
  notAfter: DateTime,
  organisationId: Type.String(),
  holderPersonId: Type.String(),
});
/** Resumed at once (good), or (202) waiting for a second officer or the holder (REQ-18). */
export const RESUME = Type.Union([
  Out({ serial: Type.String(), status: Type.Literal("good") }),
  Out({ serial: Type.String(), status: Type.Literal("on-hold"), pending: REVOCATION_REQUEST }),
]);
export const REVOCATION_REQUESTS = Type.Array(REVOCATION_REQUEST);
export const ROLE_GRANTS = Type.Array(ROLE_GRANT);
export const HOLDER_CARDS = Type.Array(
  Out({
    orderId: Type.String(),
    loa: Type.Number(),
    purpose: Enum(["holder", "officer"]),
    status: Type.String(),
    statusCode: Type.String(),
    statusParams: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number()])),
    thisCard: Type.Boolean(),
    certificate: opt(Out({ serial: Type.String(), status: Enum(["good", "on-hold", "revoked"]), notAfter: DateTime })),
    activationDeadline: opt(DateTime),
    actions: Type.Array(Enum(["activate", "suspend", "resume", "revoke", "lost"])),
  }),
);
export const PENDING_ACTIVATION = Out({
  pending: Type.Boolean(),
  status: Type.String(),
  statusCode: Type.String(),
  statusParams: Type.Record(Type.String(), Type.String()),
  orderId: opt(Type.String()),
  loa: opt(Type.Number()),
  needsActivationCode: opt(Type.Boolean()),
  needsChallengeSignature: opt(Type.Boolean()),
  needsStationPinRecord: opt(Type.Boolean()),
  deadline: opt(DateTime),
  pin: opt(Enum(["transport", "random"])),
});
export const ACTIVATION_CHALLENGE = Out({
  orderId: Type.String(),
  challenge: Type.String(),
  message: Type.String(),
  hash: Enum(["sha256", "sha384"]),
  expiresAt: DateTime,
});
export const CARD_LOST = Type.Composite([REVOCATION_REQUEST, Out({ lost: Type.Literal(true) })]);

export type OrderJson = Static<typeof ORDER>;
export type OrderNames = Static<typeof ORDER_NAMES>;
export type TimelineEntry = Static<typeof TIMELINE_ENTRY>;
export type MeJson = Answer<typeof ME>;
