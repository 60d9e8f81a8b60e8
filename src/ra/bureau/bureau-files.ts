import { Ajv } from "ajv";
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { schemaErrorText } from "../../shared/schema-errors.js";
import { Closed, Enum } from "../../shared/schema-types.js";

/**
 * The file formats of the card bureau exchange (JSON Lines, one JSON object a line; line 1 is the
 * header). Each file travels with a detached CMS signature (`<file>.p7s`); the batch file, which
 * names people, is also encrypted to the bureau's certificate (`<file>.p7e`). Each line kind is one
 * TypeBox schema (what ajv checks, the type by `Static<>`), for the files the RA writes as for those it
 * reads; the README's card bureau section describes them for the bureau.
 */
export const BATCH_FORMAT = "cardpki-bureau-batch-v1";
export const ANSWER_FORMAT = "cardpki-bureau-answer-v1";
export const STATUS_FORMAT = "cardpki-bureau-status-v1";
export const RETURN_FORMAT = "cardpki-bureau-certificates-v1";

const Id = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$" });
const B64 = Type.String({ pattern: "^[A-Za-z0-9+/]+={0,2}$", maxLength: 16_384 });
const Text = (max: number) => Type.String({ minLength: 1, maxLength: max });
const CreatedAt = Type.String({ format: "date-time" });
const CardCount = Type.Integer({ minimum: 1, maximum: 100_000 });
const CardSerial = Type.String({ pattern: "^[0-9]{1,20}$" });

export const BatchHeader = Closed({
  type: Type.Literal("batch"),
  format: Type.Literal(BATCH_FORMAT),
  batchId: Id,
  createdAt: CreatedAt,
  cards: CardCount,
});

/** One card to make: what is printed on it, how it is personalised, where it goes. */
export const BatchCard = Closed({
  type: Type.Literal("card"),
  orderId: Id,
  /** The workflow (card product) and the certificate profile the card is for. */
  cardProfile: Closed({ workflow: Id, certificateProfile: Id, loa: Type.Integer({ minimum: 2, maximum: 3 }) }),
  /** The card body: the holder's name as the population register holds it (REQ-07), the organisation. */
  layout: Closed({
    holderName: Text(200),
    givenName: Type.Optional(Text(100)),
    surname: Type.Optional(Text(100)),
    organisation: Text(200),
  }),
  /** The chip: key slot and algorithm, PIN kind and lengths (the workflow's card block). */
  chip: Closed({
    slot: Type.String({ pattern: "^9[acde]$" }),
    algorithm: Enum(["P-256", "P-384", "RSA-2048"] as const),
    pin: Enum(["transport", "random"] as const),
    pinLength: Type.Integer({ minimum: 6, maximum: 8 }),
    pukLength: Type.Integer({ minimum: 8, maximum: 8 }),
  }),
  /** Where the carrier takes the card (the RA office that hands it out in person). */
  deliveryAddress: Text(500),
});

export const AnswerHeader = Closed({
  type: Type.Literal("answer"),
  format: Type.Literal(ANSWER_FORMAT),
  answerId: Id,
  batchId: Id,
  createdAt: CreatedAt,
  cards: CardCount,
});

/** One card made: its serial, the key made on its chip and the chip's PIV attestation of it (REQ-14). */
export const AnswerCard = Closed({
  type: Type.Literal("card"),
  orderId: Id,
  cardSerial: CardSerial,
  publicKey: B64,
  attestation: Closed({ certificate: B64, intermediate: B64 }),
});

export const StatusHeader = Closed({
  type: Type.Literal("status"),
  format: Type.Literal(STATUS_FORMAT),
  statusId: Id,
  batchId: Id,
  createdAt: CreatedAt,
});

/** The bureau's progress on one card: the batch was acknowledged, or the card left with a carrier. */
export const StatusCard = Closed({
  type: Type.Literal("card"),
  orderId: Id,
  status: Enum(["acknowledged", "shipped"] as const),
  carrier: Type.Optional(Text(80)),
  trackingId: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9-]{4,64}$" })),
});

/** The certificate return file's header: the RA's answer to an accepted answer file. */
export const ReturnHeader = Closed({
  type: Type.Literal("certificates"),
  format: Type.Literal(RETURN_FORMAT),
  batchId: Id,
  answerId: Id,
  createdAt: CreatedAt,
  cards: CardCount,
});

/** One card's certificate (DER, base64) for the bureau to load onto the chip. */
export const ReturnCard = Closed({
  type: Type.Literal("card"),
  orderId: Id,
  cardSerial: CardSerial,
  certSerial: Type.String({ pattern: "^[0-9A-Fa-f]{1,64}$" }),
  certificate: B64,
});

export type BatchHeader = Static<typeof BatchHeader>;
export type BatchCard = Static<typeof BatchCard>;
export type AnswerHeader = Static<typeof AnswerHeader>;
export type AnswerCard = Static<typeof AnswerCard>;
export type StatusHeader = Static<typeof StatusHeader>;
export type StatusCard = Static<typeof StatusCard>;
export type ReturnHeader = Static<typeof ReturnHeader>;
export type ReturnCard = Static<typeof ReturnCard>;

const ajv = new Ajv({ allErrors: true, strict: true });
ajv.addFormat(
  "date-time",
  (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(s) && !isNaN(Date.parse(s)),
);

/** A problem with one line of a file (line 0: the file as a whole). */
export interface LineProblem {
  readonly line: number;
  readonly orderId?: string;
  readonly problem: string;
}

/** Splits JSON Lines and checks the header and every line against their schemas; every problem, by line. */
export function parseJsonLines<H extends TSchema, L extends TSchema>(
  bytes: Uint8Array,
  header: H,
  line: L,
): { header?: Static<H>; lines: { line: number; value: Static<L> }[]; problems: LineProblem[] } {
  const checkHeader = ajv.compile(header);
  const checkLine = ajv.compile(line);
  const problems: LineProblem[] = [];
  const text = Buffer.from(bytes).toString("utf8");
  if (!text.endsWith("\n")) problems.push({ line: 0, problem: "the file does not end with a newline (cut short?)" });
  const rows = text.split("\n");
  if (rows[rows.length - 1] === "") rows.pop();
  const lines: { line: number; value: Static<L> }[] = [];
  let head: Static<H> | undefined;
  rows.forEach((raw, i) => {
    const n = i + 1;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      problems.push({ line: n, problem: "not JSON" });
      return;
    }
    const orderId =
      typeof (v as { orderId?: unknown })?.orderId === "string" ? (v as { orderId: string }).orderId : undefined;
    const check = n === 1 ? checkHeader : checkLine;
    if (!check(v)) {
      problems.push({
        line: n,
        ...(orderId ? { orderId } : {}),
        problem: schemaErrorText(check.errors),
      });
      return;
    }
    if (n === 1) head = v as Static<H>;
    else lines.push({ line: n, value: v as Static<L> });
  });
  if (rows.length === 0) problems.push({ line: 0, problem: "the file is empty" });
  return { ...(head ? { header: head } : {}), lines, problems };
}

/** JSON Lines: one object a line, each line ending in a newline. */
export function jsonLines(objects: readonly unknown[]): Uint8Array {
  return new Uint8Array(Buffer.from(objects.map((o) => JSON.stringify(o) + "\n").join(""), "utf8"));
}
