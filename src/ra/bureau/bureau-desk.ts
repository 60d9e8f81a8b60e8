import { createHash } from "node:crypto";
import { CaError } from "../../shared/ca-error.js";
import type { Clock } from "../../shared/clock.js";
import type { Random } from "../../shared/random.js";
import { newId } from "../../shared/ids.js";
import type { Workflow } from "../../policy/workflow.js";
import type { Actor, AuditEvent, OrderStore } from "../order.js";
import type { DirectoryStore } from "../directory.js";
import type { OrderService } from "../order-service.js";
import { keyOrigin, type KeyOriginDeps } from "../key-origin.js";
import { actorId, requireRole, requireScope } from "../actor-checks.js";
import type { BureauCard, BureauSeal, BureauStore } from "./bureau-ports.js";
import {
  AnswerCard,
  AnswerHeader,
  BATCH_FORMAT,
  RETURN_FORMAT,
  StatusCard,
  StatusHeader,
  jsonLines,
  parseJsonLines,
  type BatchCard,
  type BatchHeader,
  type LineProblem,
  type ReturnCard,
  type ReturnHeader,
} from "./bureau-files.js";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));

/**
 * A batch file ready for the drop folder: the JSON Lines encrypted to the bureau, and the RA's detached signature over
 * them.
 */
export interface OutgoingBatch {
  readonly batchId: string;
  readonly cards: number;
  /** The JSON Lines as signed (kept by the RA only to show; never written to the drop folder in clear). */
  readonly plain: Uint8Array;
  readonly encrypted: Uint8Array;
  readonly signature: Uint8Array;
}

/** The outcome of an answer or status file: taken in whole, or refused with every problem by line. */
export interface ImportReport {
  readonly accepted: boolean;
  readonly file: string;
  readonly batchId?: string;
  readonly cards: number;
  readonly problems: readonly LineProblem[];
  /** On an accepted answer: the certificate return file for the bureau, signed by the RA. */
  readonly returnFile?: { readonly data: Uint8Array; readonly signature: Uint8Array };
  readonly produced?: readonly { readonly orderId: string; readonly cardSerial: string; readonly certSerial: string }[];
}

const MAX_PROBLEMS_AUDITED = 200;

/**
 * Central card production by an external card bureau (CPS 4.4.1), the bureau adapter of card
 * production: released orders of a `production: bureau` workflow go out in a batch file signed by
 * the RA and encrypted to the bureau; the bureau's signed answer brings, per card, the card serial,
 * the key made on its chip and the chip's PIV attestation. Each card is then produced through the
 * same order action as at the card station (`produce`: the workflow's guards, key-attested with the
 * same attestation rules, the production saga, the certificate on hold until activation, REQ-14/16).
 *
 * An answer is checked whole before anything is written (bureau signature, schema, replay, batch,
 * order state, every attestation); any problem refuses the whole file with a report naming each
 * line, audited. An accepted answer is applied card by card; should one fail after all, the cards
 * already produced are compensated (production-failed: certificate revoked, order back in
 * production) and the answer's claim is released, so the file can be sent again.
 */
export class BureauDesk {
  constructor(
    private readonly deps: {
      orders: OrderService;
      orderStore: OrderStore;
      directory: DirectoryStore;
      workflows: ReadonlyMap<string, Workflow>;
      store: BureauStore;
      seal: BureauSeal;
      keyOrigins: KeyOriginDeps;
      clock: Clock;
      random: Random;
      /** Counts a not-received alarm (a metric); optional. */
      onAlarm?: (card: BureauCard) => void;
    },
  ) {}

  private event(
    actor: string,
    action: string,
    objectType: string,
    objectId: string,
    details: Record<string, unknown>,
    outcome: "success" | "failure" = "success",
    organisationId?: string,
  ): AuditEvent {
    return {
      id: newId(this.deps.random),
      at: this.deps.clock.now(),
      actor,
      action,
      objectType,
      objectId,
      outcome,
      ...(organisationId ? { organisationId } : {}),
      details,
    };
  }

  private bureauWorkflow(id: string): Workflow | undefined {
    const w = this.deps.workflows.get(id);
    return w?.production === "bureau" ? w : undefined;
  }

  /**
   * A batch of released orders (IN_PRODUCTION, workflow with production: bureau, not yet sent):
   * `orderIds`, or all waiting (up to `limit`). One transaction records the batch, its cards
   * (state sent) and the audit event.
   */
  async createBatch(actor: Actor, o: { orderIds?: readonly string[]; limit?: number } = {}): Promise<OutgoingBatch> {
    requireRole(actor, ["ca-operator"], "sending orders to the card bureau");
    const { orderStore, directory, store, seal, clock } = this.deps;
    const candidates =
      o.orderIds ??
      (await orderStore.inStateSince("IN_PRODUCTION", new Date(clock.now().getTime() + 1), o.limit ?? 1000));
    const lines: BatchCard[] = [];
    const orgs = new Map<string, string>();
    for (const id of candidates) {
      const order = await orderStore.load(id);
      const w = order ? this.bureauWorkflow(order.workflowId) : undefined;
      if (!order || !w || order.state !== "IN_PRODUCTION") {
        if (o.orderIds)
          throw new CaError(
            "policy-violation",
            `order ${id} is not released to bureau production (needs IN_PRODUCTION under ` +
              `a production: bureau workflow)`,
            undefined,
            { code: "bureau.order-not-for-bureau" },
          );
        continue;
      }
      if (await store.card(id)) {
        if (o.orderIds)
          throw new CaError("conflict", `order ${id} was sent to the bureau already`, undefined, {
            code: "bureau.order-sent-already",
          });
        continue;
      }
      requireScope(actor, order.organisationId);
      const name = await orderStore.registeredName(id);
      if (!name) throw new CaError("internal", `order ${id} has no registered name (REQ-07)`);
      let org = orgs.get(order.organisationId);
      if (!org)
        orgs.set(order.organisationId, (org = (await directory.organisation(order.organisationId))?.name ?? "?"));
      lines.push({
        type: "card",
        orderId: id,
        cardProfile: { workflow: w.id, certificateProfile: order.profileId, loa: w.loa },
        layout: {
          holderName: name.fullName,
          ...(name.givenName ? { givenName: name.givenName } : {}),
          ...(name.surname ? { surname: name.surname } : {}),
          organisation: org,
        },
        chip: {
          slot: w.card.slot,
          algorithm: w.card.algorithm,
          pin: w.card.pin,
          pinLength: w.card.pinLength,
          pukLength: w.card.pukLength,
        },
        // The card is handed out in person at the organisation's RA office (REQ-04).
        deliveryAddress: `${org}, RA office (hand-out in person)`,
      });
    }
    if (lines.length === 0)
      throw new CaError("not-found", "no released order waits for bureau production", undefined, {
        code: "bureau.nothing-to-send",
      });
    const now = clock.now();
    const batchId = `B${now.toISOString().slice(0, 10).replace(/-/g, "")}-${newId(this.deps.random).slice(0, 12)}`;
    const header: BatchHeader = {
      type: "batch",
      format: BATCH_FORMAT,
      batchId,
      createdAt: now.toISOString(),
      cards: lines.length,
    };
    const plain = jsonLines([header, ...lines]);
    const signature = await seal.sign(plain);
    const encrypted = await seal.encryptToBureau(plain);
    const digest = sha256(plain);
    await store.write({
      batch: { id: batchId, createdAt: now, createdBy: actorId(actor), sha256: digest, cards: lines.length },
      cards: lines.map((l, i) => ({ orderId: l.orderId, batchId, line: i + 2, state: "sent", stateAt: now })),
      audit: [
        this.event(actorId(actor), "bureau.batch.send", "bureau-batch", batchId, {
          cards: lines.length,
          orders: lines.map((l) => l.orderId),
          sha256: digest,
        }),
      ],
    });
    return { batchId, cards: lines.length, plain, encrypted, signature };
  }

  private async refuse(
    actor: Actor,
    file: string,
    kind: string,
    problems: LineProblem[],
    batchId?: string,
  ): Promise<ImportReport> {
    await this.deps.store.write({
      audit: [
        this.event(
          actorId(actor),
          `bureau.${kind}.refuse`,
          "bureau-file",
          file,
          {
            ...(batchId ? { batch: batchId } : {}),
            problems: problems.slice(0, MAX_PROBLEMS_AUDITED),
            problemCount: problems.length,
            rule: "bureau-file-checked",
            requirement: "REQ-14",
          },
          "failure",
        ),
      ],
    });
    return { accepted: false, file, ...(batchId ? { batchId } : {}), cards: 0, problems };
  }

  /**
   * The bureau's answer file: checked whole, then applied (see the class comment). The report
   * names every problem by line; `returnFile` is the certificate return file for the bureau.
   */
  async importAnswer(actor: Actor, file: string, data: Uint8Array, signature: Uint8Array): Promise<ImportReport> {
    requireRole(actor, ["ca-operator"], "taking in the card bureau's answer");
    const { store, seal, orderStore, clock } = this.deps;
    const problems: LineProblem[] = [];
    try {
      await seal.verifyBureau(data, signature);
    } catch (e) {
      return this.refuse(actor, file, "answer", [{ line: 0, problem: `bureau signature: ${(e as Error).message}` }]);
    }
    const parsed = parseJsonLines(data, AnswerHeader, AnswerCard);
    problems.push(...parsed.problems);
    const head = parsed.header;
    const digest = sha256(data);
    if (head) {
      if (await store.answerSeen(head.answerId, digest))
        problems.push({ line: 1, problem: `answer ${head.answerId} (or this very file) was taken in already: replay` });
      if (!(await store.batch(head.batchId))) problems.push({ line: 1, problem: `no batch ${head.batchId} was sent` });
      if (head.cards !== parsed.lines.length + parsed.problems.filter((p) => p.line > 1).length)
        problems.push({
          line: 0,
          problem:
            `the header announces ${head.cards} cards, the file has ` +
            `${parsed.lines.length + parsed.problems.filter((p) => p.line > 1).length}: ` +
            `partial file`,
        });
    } else if (!problems.some((p) => p.line === 1)) problems.push({ line: 1, problem: "no answer header" });
    const seenOrders = new Set<string>();
    const seenCards = new Set<string>();
    const now = clock.now();
    const checked: {
      line: number;
      card: AnswerCard;
      tracked: BureauCard;
      holderPersonId: string;
      chip: { slot: string; algorithm: string; pin: string };
    }[] = [];
    for (const { line, value: c } of parsed.lines) {
      const bad = (problem: string) => problems.push({ line, orderId: c.orderId, problem });
      if (seenOrders.has(c.orderId)) {
        bad("the order is answered twice in this file");
        continue;
      }
      seenOrders.add(c.orderId);
      if (seenCards.has(c.cardSerial)) {
        bad(`card ${c.cardSerial} is named twice in this file`);
        continue;
      }
      seenCards.add(c.cardSerial);
      const tracked = await store.card(c.orderId);
      if (!tracked || (head && tracked.batchId !== head.batchId)) {
        bad(`the order was not sent in batch ${head?.batchId ?? "?"}`);
        continue;
      }
      if (tracked.state !== "sent" && tracked.state !== "acknowledged") {
        bad(`the card was answered already (it is ${tracked.state}): replay`);
        continue;
      }
      const order = await orderStore.load(c.orderId);
      const w = order ? this.bureauWorkflow(order.workflowId) : undefined;
      if (!order || !w) {
        bad("no such order for bureau production");
        continue;
      }
      if (order.state !== "IN_PRODUCTION") {
        bad(`the order is ${order.state}, not IN_PRODUCTION`);
        continue;
      }
      // REQ-12: one holder per card, as at the card station: the card ledger's record of this serial.
      const known = await store.ledgerCard(c.cardSerial);
      if (known?.state === "lost") {
        bad(`card ${c.cardSerial} was reported lost; it is not certified again`);
        continue;
      }
      if (known && known.state === "personalised" && known.holderPersonId !== order.applicantPersonId) {
        bad(`card ${c.cardSerial} belongs to another holder's live eID in the card ledger`);
        continue;
      }
      // REQ-14: the same attestation rules as at the card station (the workflow's roots, slot, PIN policy), for the
      // card the answer names.
      const v = await keyOrigin(
        this.deps.keyOrigins,
        w,
        c.orderId,
        {
          publicKey: unb64(c.publicKey),
          attestation: {
            certificate: unb64(c.attestation.certificate),
            intermediate: unb64(c.attestation.intermediate),
          },
          bureau: { cardSerial: c.cardSerial, batchId: tracked.batchId },
        },
        now,
      );
      if (!v.ok) {
        bad(`attestation: ${v.reason}`);
        continue;
      }
      checked.push({
        line,
        card: c,
        tracked,
        holderPersonId: order.applicantPersonId,
        chip: { slot: w.card.slot, algorithm: w.card.algorithm, pin: w.card.pin },
      });
    }
    if (problems.length || !head) return this.refuse(actor, file, "answer", problems, head?.batchId);

    // Claimed once (replay, also against a second import running at the same time).
    try {
      await store.write({
        answer: { id: head.answerId, batchId: head.batchId, sha256: digest, at: now },
        audit: [
          this.event(actorId(actor), "bureau.answer.accept", "bureau-batch", head.batchId, {
            answer: head.answerId,
            sha256: digest,
            cards: checked.length,
          }),
        ],
      });
    } catch (e) {
      if (CaError.is(e, "conflict"))
        return this.refuse(actor, file, "answer", [{ line: 1, problem: (e as Error).message }], head.batchId);
      throw e;
    }
    const produced: {
      orderId: string;
      holderPersonId: string;
      cardSerial: string;
      certSerial: string;
      der: Uint8Array;
      line: number;
      chip: { slot: string; algorithm: string; pin: string };
    }[] = [];
    for (const { line, card, holderPersonId, chip } of checked) {
      try {
        const o = await this.deps.orders.act(card.orderId, "produce", actor, {
          publicKey: unb64(card.publicKey),
          attestation: {
            certificate: unb64(card.attestation.certificate),
            intermediate: unb64(card.attestation.intermediate),
          },
          bureau: { cardSerial: card.cardSerial, batchId: head.batchId },
        });
        produced.push({
          orderId: card.orderId,
          holderPersonId,
          chip,
          cardSerial: card.cardSerial,
          certSerial: o.issued!.serial,
          der: o.issued!.der,
          line,
        });
      } catch (e) {
        await this.compensate(actor, head.answerId, head.batchId, produced, (e as Error).message);
        return {
          accepted: false,
          file,
          batchId: head.batchId,
          cards: 0,
          problems: [
            {
              line,
              orderId: card.orderId,
              problem:
                `production failed: ${(e as Error).message}; the cards of this file produced ` +
                `before it were undone`,
            },
          ],
        };
      }
    }
    const at = clock.now();
    const byOrder = new Map(checked.map((c) => [c.card.orderId, c.tracked]));
    const returnHeader: ReturnHeader = {
      type: "certificates",
      format: RETURN_FORMAT,
      batchId: head.batchId,
      answerId: head.answerId,
      createdAt: at.toISOString(),
      cards: produced.length,
    };
    const returnCards = produced.map((p): ReturnCard => ({
      type: "card",
      orderId: p.orderId,
      cardSerial: p.cardSerial,
      certSerial: p.certSerial,
      certificate: b64(p.der),
    }));
    const returnData = jsonLines([returnHeader, ...returnCards]);
    const ledger = produced.map((p) => ({
      id: newId(this.deps.random),
      cardSerial: p.cardSerial,
      orderId: p.orderId,
      holderPersonId: p.holderPersonId,
      slot: p.chip.slot,
      algorithm: p.chip.algorithm,
      certSerial: p.certSerial,
      pinState: p.chip.pin === "transport" ? ("transport" as const) : ("delivered" as const),
      at,
    }));
    await store.write({
      cards: produced.map((p) => ({
        ...byOrder.get(p.orderId)!,
        state: "produced",
        stateAt: at,
        cardSerial: p.cardSerial,
        certSerial: p.certSerial,
      })),
      ledger,
      audit: [
        // The card ledger's story of each card, as the card station tells it for the cards it writes.
        ...ledger.map((c) =>
          this.event(actorId(actor), "card.bureau.produce", "card", c.id, {
            order: c.orderId,
            cardSerial: c.cardSerial,
            slot: c.slot,
            algorithm: c.algorithm,
            certificate: c.certSerial,
            batch: head.batchId,
            answer: head.answerId,
          }),
        ),
        this.event(actorId(actor), "bureau.answer.apply", "bureau-batch", head.batchId, {
          answer: head.answerId,
          produced: produced.map((p) => ({ order: p.orderId, card: p.cardSerial, certificate: p.certSerial })),
          returnFileSha256: sha256(returnData),
        }),
      ],
    });
    return {
      accepted: true,
      file,
      batchId: head.batchId,
      cards: produced.length,
      problems: [],
      returnFile: { data: returnData, signature: await this.deps.seal.sign(returnData) },
      produced: produced.map(({ orderId, cardSerial, certSerial }) => ({ orderId, cardSerial, certSerial })),
    };
  }

  /**
   * Undoes the cards of an answer produced before one failed: certificate revoked (superseded), order back in
   * production, answer claim released.
   */
  private async compensate(
    actor: Actor,
    answerId: string,
    batchId: string,
    produced: readonly { orderId: string; certSerial: string }[],
    why: string,
  ): Promise<void> {
    for (const p of produced.slice().reverse()) await this.deps.orders.act(p.orderId, "production-failed", actor, {});
    await this.deps.store.write({
      releaseAnswer: answerId,
      audit: [
        this.event(
          actorId(actor),
          "bureau.answer.compensate",
          "bureau-batch",
          batchId,
          { answer: answerId, undone: produced.map((p) => ({ order: p.orderId, certificate: p.certSerial })), why },
          "failure",
        ),
      ],
    });
  }

  /**
   * The bureau's status file (acknowledged, shipped with carrier and tracking id): checked whole, then written in one
   * transaction.
   */
  async importStatus(actor: Actor, file: string, data: Uint8Array, signature: Uint8Array): Promise<ImportReport> {
    requireRole(actor, ["ca-operator"], "taking in the card bureau's status file");
    const { store, seal, clock } = this.deps;
    try {
      await seal.verifyBureau(data, signature);
    } catch (e) {
      return this.refuse(actor, file, "status", [{ line: 0, problem: `bureau signature: ${(e as Error).message}` }]);
    }
    const parsed = parseJsonLines(data, StatusHeader, StatusCard);
    const problems = [...parsed.problems];
    const head = parsed.header;
    const digest = sha256(data);
    if (head && (await store.answerSeen(head.statusId, digest)))
      problems.push({ line: 1, problem: `status file ${head.statusId} was taken in already: replay` });
    const now = clock.now();
    const updates: BureauCard[] = [];
    for (const { line, value: s } of parsed.lines) {
      const bad = (problem: string) => problems.push({ line, orderId: s.orderId, problem });
      const t = await store.card(s.orderId);
      if (!t || t.batchId !== head?.batchId) {
        bad(`the order was not sent in batch ${head?.batchId ?? "?"}`);
        continue;
      }
      if (s.status === "acknowledged") {
        // A late acknowledgement of a card that moved on already changes nothing.
        if (t.state === "sent") updates.push({ ...t, state: "acknowledged", stateAt: now });
      } else {
        if (t.state !== "produced") bad(`the card is ${t.state}: only a produced card ships`);
        else if (!s.trackingId || !s.carrier) bad("a shipped card needs the carrier and its tracking id");
        else
          updates.push({
            ...t,
            state: "shipped",
            stateAt: now,
            shippedAt: now,
            carrier: s.carrier,
            trackingId: s.trackingId,
          });
      }
    }
    if (problems.length || !head) return this.refuse(actor, file, "status", problems, head?.batchId);
    await store.write({
      answer: { id: head.statusId, batchId: head.batchId, sha256: digest, at: now },
      cards: updates,
      audit: [
        this.event(actorId(actor), "bureau.status.apply", "bureau-batch", head.batchId, {
          status: head.statusId,
          cards: updates.map((u) => ({
            order: u.orderId,
            state: u.state,
            ...(u.trackingId ? { trackingId: u.trackingId } : {}),
          })),
        }),
      ],
    });
    return { accepted: true, file, batchId: head.batchId, cards: updates.length, problems: [] };
  }

  /**
   * The periodic check (with the expiry sweep): a shipped card whose order was handed out is
   * received; one shipped longer ago than the workflow's bureau.receivedWithin and not handed out
   * raises an alarm (audit event and metric), once. Its order expires by the PRODUCED deadline
   * and the expiry sweep revokes the certificate (REQ-15).
   */
  async sweep(limit = 500): Promise<{ received: string[]; alarms: string[] }> {
    const { store, orderStore, clock } = this.deps;
    const now = clock.now();
    const received: string[] = [];
    const alarms: string[] = [];
    if (![...this.deps.workflows.values()].some((w) => w.bureau)) return { received, alarms };
    // Every shipped card without an alarm: received once its order was handed out; overdue by its own workflow's time.
    for (const c of await store.overdue(new Date(now.getTime() + 1), limit)) {
      const order = await orderStore.load(c.orderId);
      if (order && (order.state === "HANDED_OUT" || order.state === "ACTIVE")) {
        await store.write({
          cards: [{ ...c, state: "received", stateAt: order.handedOutAt ?? now }],
          audit: [
            this.event(
              "system:bureau-tracking",
              "bureau.card.received",
              "order",
              c.orderId,
              { batch: c.batchId },
              "success",
              order.organisationId,
            ),
          ],
        });
        received.push(c.orderId);
        continue;
      }
      const w = order ? this.deps.workflows.get(order.workflowId) : undefined;
      if (!w?.bureau || c.shippedAt!.getTime() + w.bureau.receivedWithinMs > now.getTime()) continue;
      await store.write({
        cards: [{ ...c, alarmAt: now }],
        audit: [
          this.event(
            "system:bureau-tracking",
            "bureau.card.not-received",
            "order",
            c.orderId,
            {
              batch: c.batchId,
              carrier: c.carrier,
              trackingId: c.trackingId,
              shippedAt: c.shippedAt!.toISOString(),
              receivedWithin: w.bureau.receivedWithin,
              orderState: order?.state,
              rule: "bureau.receivedWithin",
            },
            "failure",
            order?.organisationId,
          ),
        ],
      });
      this.deps.onAlarm?.(c);
      alarms.push(c.orderId);
    }
    return { received, alarms };
  }

  /** Marks a shipped card received (the hand-out officer has it in hand). */
  async received(actor: Actor, orderId: string): Promise<BureauCard> {
    requireRole(actor, ["ra-officer", "ca-operator"], "recording a card from the bureau as received");
    const c = await this.deps.store.card(orderId);
    if (!c || (c.state !== "shipped" && c.state !== "produced"))
      throw new CaError("conflict", `order ${orderId} has no produced or shipped bureau card`, undefined, {
        code: "bureau.not-shipped",
      });
    const order = await this.deps.orderStore.load(orderId);
    if (order) requireScope(actor, order.organisationId);
    const now = this.deps.clock.now();
    const next: BureauCard = { ...c, state: "received", stateAt: now };
    await this.deps.store.write({
      cards: [next],
      audit: [
        this.event(
          actorId(actor),
          "bureau.card.received",
          "order",
          orderId,
          { batch: c.batchId },
          "success",
          order?.organisationId,
        ),
      ],
    });
    return next;
  }

  /** Tracking of one batch: its cards and where each is. */
  async tracking(
    batchId: string,
  ): Promise<{ batch: NonNullable<Awaited<ReturnType<BureauStore["batch"]>>>; cards: BureauCard[] }> {
    const batch = await this.deps.store.batch(batchId);
    if (!batch) throw new CaError("not-found", `no batch ${batchId}`, undefined, { code: "bureau.no-batch" });
    return { batch, cards: await this.deps.store.cardsOfBatch(batchId) };
  }
}
