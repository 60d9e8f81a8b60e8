import type { AuditEvent } from "../order.js";

/** The RA's side of the exchange's cryptography (CMS, implemented in composition/bureau-cms.ts). */
export interface BureauSeal {
  /** A detached signature by the RA's exchange key over the file's bytes. */
  sign(data: Uint8Array): Promise<Uint8Array>;
  /** The file encrypted to the bureau's certificate. */
  encryptToBureau(data: Uint8Array): Promise<Uint8Array>;
  /** Throws `policy-violation` / `invalid-input` unless `signature` is the bureau's over `data`. */
  verifyBureau(data: Uint8Array, signature: Uint8Array): Promise<void>;
}

/** Where a card made by the bureau is (per card; a batch is as far as its cards). */
export type BureauCardState = "sent" | "acknowledged" | "produced" | "shipped" | "received";
export const BUREAU_CARD_STATES: readonly BureauCardState[] = [
  "sent",
  "acknowledged",
  "produced",
  "shipped",
  "received",
];

export interface BureauBatch {
  readonly id: string;
  readonly createdAt: Date;
  readonly createdBy: string;
  /** SHA-256 of the batch file as signed (JSON Lines). */
  readonly sha256: string;
  readonly cards: number;
}

export interface BureauCard {
  readonly orderId: string;
  readonly batchId: string;
  /** The line of the batch file (1 is the header, cards from 2). */
  readonly line: number;
  readonly state: BureauCardState;
  readonly stateAt: Date;
  readonly cardSerial?: string;
  readonly certSerial?: string;
  readonly carrier?: string;
  readonly trackingId?: string;
  readonly shippedAt?: Date;
  /** When the not-received alarm was raised (once per card). */
  readonly alarmAt?: Date;
}

/**
 * A card the bureau made, as the card ledger records every card written (the card station's record, `cards`): its
 * serial, order, holder, slot, algorithm and certificate. The bureau keeps the card's management key and PUK, so the
 * ledger has none of them.
 */
export interface BureauLedgerCard {
  readonly id: string;
  readonly cardSerial: string;
  readonly orderId: string;
  readonly holderPersonId: string;
  readonly slot: string;
  readonly algorithm: string;
  readonly certSerial: string;
  readonly pinState: "transport" | "delivered";
  readonly at: Date;
}

/** What the card ledger holds for a card serial (the newest record), for the checks of an answer. */
export interface LedgerCardOnRecord {
  readonly orderId: string;
  readonly holderPersonId: string;
  readonly state: string;
}

/** One change of the tracking records, with its audit event, in one transaction. */
export interface BureauWrite {
  readonly batch?: BureauBatch;
  readonly cards?: readonly BureauCard[];
  /** An answer file taken in (its id and SHA-256 are never taken twice: replay). */
  readonly answer?: { readonly id: string; readonly batchId: string; readonly sha256: string; readonly at: Date };
  /** An answer whose application was compensated: its claim is removed again. */
  readonly releaseAnswer?: string;
  /** Cards produced: written to the card ledger in the same transaction. */
  readonly ledger?: readonly BureauLedgerCard[];
  readonly audit: readonly AuditEvent[];
}

/** Store port (store/bureau.store.ts). */
export interface BureauStore {
  /** Writes all of it or nothing; `conflict` when an answer id or digest was taken already. */
  write(w: BureauWrite): Promise<void>;
  batch(id: string): Promise<BureauBatch | undefined>;
  cardsOfBatch(batchId: string): Promise<BureauCard[]>;
  card(orderId: string): Promise<BureauCard | undefined>;
  /** An answer taken in with this id or this digest. */
  answerSeen(id: string, sha256: string): Promise<boolean>;
  /** The card ledger's newest record of a card serial (written by the card station or by a bureau import). */
  ledgerCard(cardSerial: string): Promise<LedgerCardOnRecord | undefined>;
  /** Shipped cards not received, shipped before `before`, with no alarm yet. */
  overdue(before: Date, limit: number): Promise<BureauCard[]>;
}
