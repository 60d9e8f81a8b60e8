import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "./environment.js";
import { orderReference } from "../../src/shared/order-reference.js";
import { startMailSink, type MailSink } from "./mail-sink.js";
import { startSmsStub, type SmsStub } from "./sms-stub.js";

/**
 * One message as a person got it: an e-mail the SMTP server accepted, an SMS the gateway stub accepted, a letter in the
 * print spool.
 */
export interface DeliveredMessage {
  readonly channel: "email" | "sms" | "mail";
  /**
   * The e-mail envelope recipient, the phone number the gateway was asked to send to, or (letters) the print file's
   * name.
   */
  readonly to: string;
  readonly subject: string;
  /** The text as the person reads it (a letter: the PDF's text by pdftotext). */
  readonly text: string;
  /** Message-ID, Idempotency-Key or file name: one per notification (a message sent again is the same one). */
  readonly key: string;
}

/** The peers a test service delivers to; see startDeliveryPeers. */
export interface PeerSources {
  readonly mail?: MailSink;
  readonly sms?: SmsStub;
  /** The letter channel's print spool (CARDPKI_LETTER_DIR). */
  readonly letterDir?: string;
}

/** The applicant link of contract 2 as the terms mail carries it: `<publicUrl>/applicant/#order=<id>&token=<token>`. */
const LINK = /(https:\/\/[^\s/]+\/applicant\/#order=([0-9a-f]{32})&token=([A-Z0-9]+))/;
/**
 * In each language of locales/<lang>/notifications.json (the recipient's language: chosen at binding, else the
 * organisation's country's).
 */
/** The activation code's line; the message names the order by its short reference (never its id). */
const CODE = /(?:Activation code for|Aktiveringskod för|Aktiveringskode til)[^:\n]*: ([A-Z0-9]+)/;
const forOrderRef = (orderId: string) => (text: string) => text.includes(orderReference(orderId));
const PIN_WORDS = [
  "New PIN for your card",
  "Transport PIN for your card",
  "PIN for your card",
  "Ny PIN-kod för ditt kort",
  "Transport-PIN för ditt kort",
  "PIN-kod för ditt kort",
  "Ny PIN-kode til dit kort",
  "Transport-PIN til dit kort",
  "PIN-kode til dit kort",
];
const PIN = new RegExp(`\\b(${PIN_WORDS.join("|")}) ([0-9A-Za-z]+): ([0-9]{4,8})\\b`);
/** An unblock's new PIN, in any language. */
const NEW_PIN = /^(New|Ny) /;

/**
 * What the holder's and applicant's delivery peers received (REQ-06, REQ-15), the only place a
 * user-facing test takes a terms token, an activation code or a PIN from. Every wait is bounded
 * and, when nothing matching arrived, fails naming what did arrive (recipient, channel, subject:
 * never the text).
 */
export class Delivered {
  private readonly letterText = new Map<string, string>();
  /** Messages handed out by next() / pin(): each PIN message is read once, in the order it arrived. */
  private readonly read = new Set<string>();
  /**
   * Called before each look at the peers while waiting: a service-level test that runs the
   * delivery worker itself sets `() => worker.tick()`. A started service's own loop needs none.
   */
  pump?: () => Promise<unknown>;

  constructor(private readonly peers: PeerSources) {}

  /** Everything received so far, per channel in the order it arrived (a message sent again counted once). */
  async received(): Promise<DeliveredMessage[]> {
    const out: DeliveredMessage[] = [];
    const seen = new Set<string>();
    const add = (m: DeliveredMessage) => {
      if (seen.has(m.key)) return;
      seen.add(m.key);
      out.push(m);
    };
    for (const m of this.peers.mail?.messages ?? [])
      for (const to of m.envelopeTo)
        add({
          channel: "email",
          to,
          subject: m.subject,
          text: m.text,
          key: `email:${m.messageId ?? m.raw.length + m.subject}:${to}`,
        });
    for (const r of this.peers.sms?.messages ?? [])
      add({
        channel: "sms",
        to: String(r.body?.to ?? ""),
        subject: "",
        text: String(r.body?.text ?? ""),
        key: `sms:${r.idempotencyKey ?? JSON.stringify(r.body)}`,
      });
    if (this.peers.letterDir) {
      let files: string[] = [];
      try {
        files = readdirSync(this.peers.letterDir)
          .filter((f) => f.endsWith(".pdf"))
          .sort();
      } catch {
        // no letter written yet
      }
      for (const f of files) {
        let text = this.letterText.get(f);
        if (text === undefined) {
          const r = await run("pdftotext", [join(this.peers.letterDir, f), "-"]);
          if (r.status !== 0) throw new Error(`pdftotext ${f}: ${r.out}`);
          this.letterText.set(f, (text = r.stdout));
        }
        add({ channel: "mail", to: f, subject: "", text, key: `mail:${f}` });
      }
    }
    return out;
  }

  /**
   * The first received message that `pred` accepts, waiting up to `ms`; else an error naming `what` and what did
   * arrive.
   */
  async waitFor(what: string, pred: (m: DeliveredMessage) => boolean, ms = 20_000): Promise<DeliveredMessage> {
    const end = Date.now() + ms;
    for (;;) {
      await this.pump?.();
      const all = await this.received();
      const m = all.find(pred);
      if (m) return m;
      if (Date.now() > end) {
        const counted = new Map<string, number>();
        for (const x of all)
          counted.set(
            `${x.channel} to ${x.to}${x.subject ? ` "${x.subject}"` : ""}`,
            (counted.get(`${x.channel} to ${x.to}${x.subject ? ` "${x.subject}"` : ""}`) ?? 0) + 1,
          );
        const got = [...counted].map(([k, n]) => (n > 1 ? `${n} × ${k}` : k));
        const refused = (this.peers.sms?.requests ?? [])
          .filter((r) => r.status >= 300)
          .map((r) => `${r.status} for ${String(r.body?.to)}`);
        throw new Error(
          `${what}: nothing matching arrived within ${ms} ms. The peers received ` +
            `${got.length ? got.join("; ") : "nothing"}` +
            `${refused.length ? `; the SMS stub refused ${refused.join(", ")}` : ""} (a ` +
            `person without an address for the channel gets a dead letter: GET /api/v1/delivery/dead-letters)`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * REQ-06: the terms message of an order, from the mail the SMTP server received: the link in it
   * (contract 2; absent when the RA has no public URL) and the token (in the link, and as text for API clients).
   */
  async terms(orderId: string, ms?: number): Promise<{ link?: string; token: string; message: DeliveredMessage }> {
    const forOrder = (m: DeliveredMessage) =>
      m.channel === "email" &&
      (LINK.exec(m.text)?.[2] === orderId ||
        new RegExp(`(order|beställning|bestilling) ${orderId}, token`).test(m.text));
    const message = await this.waitFor(`the terms mail for order ${orderId}`, forOrder, ms);
    const link = LINK.exec(message.text);
    const token = link?.[3] ?? /\btoken:? ([A-Z0-9]{16,})/.exec(message.text)?.[1];
    if (!token) throw new Error(`the terms mail for order ${orderId} holds no token: ${message.subject}`);
    return { ...(link ? { link: link[1]! } : {}), token, message };
  }

  /** The applicant link `<publicUrl>/applicant/#order=…&token=…` from the terms mail. */
  async termsLink(orderId: string, ms?: number): Promise<string> {
    const t = await this.terms(orderId, ms);
    if (!t.link) throw new Error(`the terms mail for order ${orderId} holds no applicant link (no ra.publicUrl?)`);
    return t.link;
  }

  /** The terms token from the terms mail (what an API client enters). */
  async termsToken(orderId: string, ms?: number): Promise<string> {
    return (await this.terms(orderId, ms)).token;
  }

  /**
   * REQ-15: an order's activation code from whichever channel the workflow (or the officer) chose: SMS, e-mail or
   * letter.
   */
  async activationCode(orderId: string, ms?: number): Promise<string> {
    const m = await this.waitFor(
      `the activation code for order ${orderId}`,
      (x) => CODE.test(x.text) && forOrderRef(orderId)(x.text),
      ms,
    );
    return CODE.exec(m.text)![1]!;
  }

  /**
   * The next message to `to` (a phone number, an e-mail address, or a postal address whose lines
   * a letter must all show) that `pred` accepts and that next() has not handed out before.
   */
  async next(
    to: string,
    pred: (m: DeliveredMessage) => boolean = () => true,
    what = `a message to ${to}`,
    ms?: number,
  ): Promise<DeliveredMessage> {
    const lines = to
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
    const addressed = (m: DeliveredMessage) =>
      m.channel === "mail" ? lines.every((l) => m.text.includes(l)) : m.to === to;
    const m = await this.waitFor(what, (x) => !this.read.has(x.key) && addressed(x) && pred(x), ms);
    this.read.add(m.key);
    return m;
  }

  /**
   * REQ-15/16: the next PIN message to the holder's address (by the workflow's PIN channel): the
   * initial or transport PIN after personalisation, a new PIN after an unblock.
   */
  async pin(
    to: string,
    kind: "initial" | "unblock" = "initial",
    ms?: number,
  ): Promise<{ pin: string; cardSerial: string; message: DeliveredMessage }> {
    const message = await this.next(
      to,
      (m) => PIN.test(m.text) && (NEW_PIN.test(PIN.exec(m.text)![1]!) ? "unblock" : "initial") === kind,
      `the ${kind} PIN for ${to}`,
      ms,
    );
    const [, , cardSerial, pin] = PIN.exec(message.text)!;
    return { pin: pin!, cardSerial: cardSerial!, message };
  }
}

/** A service's delivery peers, started by the test, and how to point the service at them. */
export interface DeliveryPeers extends Delivered {
  readonly mail: MailSink;
  readonly sms: SmsStub;
  readonly letterDir: string;
  /**
   * For loadConfig: SMTP with STARTTLS required (the sink's test certificate as CA), the SMS gateway with its bearer
   * token in an owner-only file, the letter spool; a fast worker loop.
   */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Starts a real SMTP server (STARTTLS), an SMS gateway stub and a letter spool folder for a test
 * service; `{ ...demo.env, ...peers.env }` makes the service's delivery worker send there.
 */
export async function startDeliveryPeers(): Promise<DeliveryPeers> {
  const mail = await startMailSink({ tls: true });
  const sms = await startSmsStub();
  const dir = mkdtempSync(join(tmpdir(), "cardpki-peers-"));
  const letterDir = join(dir, "letters");
  writeFileSync(join(dir, "sms-token"), sms.token, { mode: 0o600 });
  const env: Record<string, string> = {
    CARDPKI_SMTP_URL: mail.url,
    CARDPKI_SMTP_CA_FILE: mail.caFile!,
    CARDPKI_SMTP_FROM: "cardpki test <no-reply@cardpki.test>",
    CARDPKI_SMTP_REQUIRE_TLS: "true",
    CARDPKI_SMS_URL: sms.url,
    CARDPKI_SMS_TOKEN_FILE: join(dir, "sms-token"),
    CARDPKI_LETTER_DIR: letterDir,
    CARDPKI_DELIVERY_POLL_MS: "100",
    CARDPKI_DELIVERY_BACKOFF_SECONDS: "0.25",
    CARDPKI_DELIVERY_BACKOFF_MAX_SECONDS: "2",
  };
  const delivered = new Delivered({ mail, sms, letterDir });
  return Object.assign(delivered, {
    mail,
    sms,
    letterDir,
    env,
    async stop() {
      await mail.stop();
      await sms.stop();
    },
  });
}
