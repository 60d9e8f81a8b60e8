import { createRequire } from "node:module";
import { CaError } from "../shared/ca-error.js";
import type { CardChannel } from "./iso7816.js";

// The part of npm pcsclite (CommonJS) we use; loaded lazily so that only card work needs libpcsclite.
interface Pcsc {
  on(ev: "error", l: (e: unknown) => void): void;
  on(ev: "reader", l: (r: Reader) => void): void;
  close(): void;
}
interface Reader {
  readonly name: string;
  readonly SCARD_STATE_PRESENT: number;
  readonly SCARD_SHARE_SHARED: number;
  readonly SCARD_RESET_CARD: number;
  on(ev: "status", l: (s: { state: number; atr?: Buffer }) => void): void;
  on(ev: "end", l: () => void): void;
  on(ev: "error", l: (e: unknown) => void): void;
  connect(o: { share_mode: number }, cb: (err: unknown, protocol: number) => void): void;
  disconnect(d: number, cb: (err: unknown) => void): void;
  transmit(data: Buffer, resLen: number, protocol: number, cb: (err: unknown, r: Buffer) => void): void;
  close(): void;
}

export interface ReaderInfo {
  readonly name: string;
  readonly cardPresent: boolean;
  readonly atr?: Uint8Array;
}

const RESPONSE_MAX = 65538; // extended Le + SW

/**
 * PC/SC through pcsc-lite (npm pcsclite): readers come and go by events; a card is connected
 * shared (SCARD_SHARE_SHARED) so OpenSC and others can use the reader too. Every wait has a
 * timeout; `close()` closes every reader and the context (else the process does not exit).
 */
export class PcscTransport {
  private readonly pcsc: Pcsc;
  private readonly readers = new Map<string, { reader: Reader; state: number; atr?: Uint8Array }>();
  private error: unknown;
  private closed = false;
  private readonly listeners = new Set<() => void>();
  private readonly enumerated: Promise<void>;

  constructor() {
    const pcsclite = createRequire(import.meta.url)("pcsclite") as () => Pcsc;
    try {
      this.pcsc = pcsclite();
    } catch (e) {
      // SCardEstablishContext fails when no PC/SC daemon runs: say so (503), the cause goes to the log.
      throw new CaError(
        "unavailable",
        `PC/SC is not available (is pcscd running?): ${(e as Error).message}`,
        undefined,
        { cause: e, code: "card.reader-service-down" },
      );
    }
    this.pcsc.on("error", (e: unknown) => {
      this.error = e;
      this.changed();
    });
    this.pcsc.on("reader", (reader: Reader) => {
      const entry: { reader: Reader; state: number; atr?: Uint8Array } = { reader, state: 0 };
      this.readers.set(reader.name, entry);
      reader.on("status", (s: { state: number; atr?: Buffer }) => {
        entry.state = s.state;
        if (s.atr && s.atr.length) entry.atr = new Uint8Array(s.atr);
        else delete entry.atr;
        this.changed();
      });
      reader.on("end", () => {
        this.readers.delete(reader.name);
        this.changed();
      });
      reader.on("error", (e: unknown) => {
        this.error = e;
        this.changed();
      });
      this.changed();
    });
    // pcsc-lite reports the readers it has right after start; give it a moment to do so.
    this.enumerated = this.waitFor(() => this.readers.size > 0 || this.error !== undefined, 1500)
      .catch(() => undefined)
      .then(() => new Promise((r) => setTimeout(r, 50)));
  }

  private changed(): void {
    for (const l of [...this.listeners]) l();
  }

  private present(e: { reader: Reader; state: number }): boolean {
    return (e.state & e.reader.SCARD_STATE_PRESENT) !== 0;
  }

  private waitFor(cond: () => boolean, timeoutMs: number, what = "the reader"): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        if (!cond()) return;
        clearTimeout(timer);
        this.listeners.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.listeners.delete(done);
        reject(
          new CaError("unavailable", `timed out after ${timeoutMs} ms waiting for ${what}`, undefined, {
            code: "card.no-card",
          }),
        );
      }, timeoutMs);
      this.listeners.add(done);
    });
  }

  private failIfBroken(): void {
    if (this.error !== undefined)
      throw new CaError(
        "unavailable",
        `PC/SC is not available (is pcscd running?): ${String((this.error as Error)?.message ?? this.error)}`,
        undefined,
        { code: "card.reader-service-down" },
      );
    if (this.closed) throw new CaError("internal", "the PC/SC transport is closed");
  }

  private snapshot(): ReaderInfo[] {
    return [...this.readers.values()].map((e) => ({
      name: e.reader.name,
      cardPresent: this.present(e),
      ...(e.atr ? { atr: e.atr } : {}),
    }));
  }

  async list(): Promise<ReaderInfo[]> {
    await this.enumerated;
    this.failIfBroken();
    return this.snapshot();
  }

  /** Calls `listener` with the readers whenever a reader or card comes or goes; returns the unsubscribe function. */
  watch(listener: (readers: ReaderInfo[]) => void): () => void {
    let last = "";
    const l = () => {
      const now = this.snapshot();
      const key = JSON.stringify(now.map((r) => [r.name, r.cardPresent]));
      if (key !== last) {
        last = key;
        listener(now);
      }
    };
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }

  /** Waits until `readerName` (or the only reader with a card) has a card, then connects shared. */
  async connect(readerName?: string, timeoutMs = 10_000): Promise<CardChannel> {
    await this.enumerated;
    this.failIfBroken();
    const pick = () => {
      if (readerName) return this.readers.get(readerName);
      const withCard = [...this.readers.values()].filter((e) => this.present(e));
      return withCard.length === 1 ? withCard[0] : undefined;
    };
    if (!readerName && [...this.readers.values()].filter((e) => this.present(e)).length > 1)
      throw new CaError(
        "invalid-input",
        `several readers hold a card (${[...this.readers.keys()].join(", ")}); name one`,
        undefined,
        { code: "card.several-readers" },
      );
    await this.waitFor(
      () => this.error !== undefined || (pick() !== undefined && this.present(pick()!)),
      timeoutMs,
      readerName ? `a card in '${readerName}'` : "a card in a reader",
    );
    this.failIfBroken();
    const entry = pick()!;
    const reader = entry.reader;
    const protocol = await new Promise<number>((resolve, reject) =>
      reader.connect({ share_mode: reader.SCARD_SHARE_SHARED }, (err, p) =>
        err
          ? reject(
              new CaError(
                "unavailable",
                `cannot connect to the card in '${reader.name}': ${(err as Error).message ?? err}`,
                undefined,
                { code: "card.connect-failed" },
              ),
            )
          : resolve(p),
      ),
    );
    let open = true;
    const channel: CardChannel = {
      reader: reader.name,
      atr: entry.atr ?? new Uint8Array(0),
      transmit: (apdu, ms = 30_000) =>
        new Promise<Uint8Array>((resolve, reject) => {
          if (!open) return reject(new CaError("internal", "the card channel is closed"));
          if (!this.present(entry))
            return reject(
              new CaError("unavailable", `the card was removed from '${reader.name}'`, undefined, {
                code: "card.removed",
              }),
            );
          const timer = setTimeout(
            () =>
              reject(
                new CaError("unavailable", `the card in '${reader.name}' did not answer within ${ms} ms`, undefined, {
                  code: "card.no-answer",
                }),
              ),
            ms,
          );
          reader.transmit(Buffer.from(apdu), RESPONSE_MAX, protocol, (err, r) => {
            clearTimeout(timer);
            if (err)
              reject(
                new CaError(
                  "unavailable",
                  `the card in '${reader.name}' is gone or did not answer: ${(err as Error).message ?? err}`,
                  undefined,
                  { code: "card.no-answer" },
                ),
              );
            else resolve(new Uint8Array(r));
          });
        }),
      close: () =>
        new Promise<void>((resolve) => {
          if (!open) return resolve();
          open = false;
          // Reset on the way out: no PIN or management-key state stays open for the next user.
          reader.disconnect(reader.SCARD_RESET_CARD, () => resolve());
        }),
    };
    return channel;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const e of this.readers.values()) e.reader.close();
    this.readers.clear();
    this.pcsc.close();
  }
}
