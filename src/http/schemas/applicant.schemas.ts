import { Type } from "@sinclair/typebox";
import { Body, DateTime, Enum, ID, Out, opt, str } from "./common.schemas.js";

/** The applicant pages' API (src/http/applicant.routes.ts): bodies and answers. */

const TOKEN = str(64, "^[A-Za-z0-9]{16,64}$");
export const OPEN_SESSION = Body({ orderId: ID, token: TOKEN });
export const ACCEPT_TERMS = Body({
  termsVersion: str(32, "^[0-9A-Za-z.-]{1,32}$"),
  accepted: Type.Boolean(),
  termsLanguage: opt(Type.String({ enum: ["en", "sv", "da"] })),
  termsSha256: opt(str(64, "^[0-9a-fA-F]{64}$")),
});

/** The order as its applicant sees it: plain words, no ids, hashes or officer names. */
export const PROGRESS = Out({
  status: Type.String(),
  statusCode: Type.String(),
  statusParams: Type.Record(Type.String(), Type.Number()),
  loa: Type.Number(),
  steps: Type.Array(Out({ code: Type.String(), label: Type.String(), state: Enum(["done", "current", "to do"]) })),
  termsAccepted: Type.Union([Type.String(), Type.Null()]),
  canAcceptTerms: Type.Boolean(),
  canCancel: Type.Boolean(),
  closed: Type.Boolean(),
});
export const APPLICANT_SESSION = Out({ csrfToken: Type.String(), expiresAt: DateTime, progress: PROGRESS });
/** REQ-06: the terms text; `lang` and `sha256` name the text shown. */
export const TERMS = Out({
  version: Type.String(),
  title: Type.String(),
  text: Type.String(),
  lang: Type.String(),
  sha256: Type.String(),
});
