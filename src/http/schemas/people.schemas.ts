import { Type } from "@sinclair/typebox";
import { Out, opt } from "./common.schemas.js";

/** People and organisations where officers pick them (src/http/people.routes.ts). */

/** A person as an entitled reader sees them (REQ-27: the read is audited). */
export const PERSON_VIEW = Out({
  id: Type.String(),
  organisationId: Type.String(),
  label: Type.String(),
  name: opt(Type.String()),
  birthDate: opt(Type.String()),
  nationalIdMasked: opt(Type.String()),
  language: opt(Type.String()),
  email: opt(Type.String()),
  phone: opt(Type.String()),
  postalAddress: opt(Type.String()),
  organisationName: opt(Type.String()),
});
/** 0 or 1 people found by national ID number. */
export const PEOPLE_FOUND = Type.Array(PERSON_VIEW, { maxItems: 1 });
export const PERSON = Type.Composite([
  PERSON_VIEW,
  Out({ unboundAt: opt(Type.Unsafe<Date | string>({ type: "string", format: "date-time" })) }),
]);
export const ORGANISATION_PICKS = Type.Array(
  Out({
    id: Type.String(),
    name: Type.String(),
    orgNumber: Type.String(),
    country: Type.String(),
    status: Type.String(),
    serviceOwner: Type.Boolean(),
    mine: Type.Boolean(),
  }),
);
