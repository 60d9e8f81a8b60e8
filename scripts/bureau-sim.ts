// A card bureau simulator, for tests and the demo: its own process, its own exchange key (RSA, for
// the encrypted batch files) and its own PIV attestation root, both made at first start in its state
// folder. It reads the drop folder like a bureau: each batch file from the RA (to-bureau/*.jsonl.p7e
// with the RA's detached signature .p7s) is decrypted and verified, a "card" per line is made (a
// P-256 key as if generated on the chip, a card serial, the chip's PIV attestation in the YubiKey
// format), and it answers in from-bureau/: a status file (acknowledged) and the answer file (card
// serial, public key, attestation), both signed. Each certificate return file (to-bureau/
// *.certificates.jsonl) is verified, its certificates "loaded onto the cards", and a status file
// (shipped, with carrier and tracking id) follows. The cards it made (key included: the card a
// tester holds in hand) are in <state>/cards/<orderId>.json.
//
//   node dist/scripts/bureau-sim.js --drop DIR --state DIR [--once] [--malformed KIND]
//
// --malformed makes the next answer bad on purpose: bad-signature, tampered, partial, bad-json,
// untrusted-root, wrong-card, wrong-slot, duplicate, replay (the same answer again under a new name), card-in-use (the
// first card has the serial of a card this simulator made earlier, with a valid attestation for it).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import {
  createExchangeIdentity,
  decryptWith,
  readExchangeIdentity,
  signDetached,
  verifyDetached,
  type ExchangeIdentity,
} from "../src/composition/bureau-cms.js";
import { folderDrop, type DropFolder } from "../src/composition/bureau-drop.js";
import {
  ANSWER_FORMAT,
  BatchCard,
  BatchHeader,
  ReturnCard,
  ReturnHeader,
  STATUS_FORMAT,
  jsonLines,
  parseJsonLines,
  type AnswerCard,
  type AnswerHeader,
  type StatusCard,
  type StatusHeader,
} from "../src/ra/bureau/bureau-files.js";
import { systemClock } from "../src/shared/clock.js";
import { cryptoRandom } from "../src/shared/random.js";
import { createMakerRoot, loadOrCreateMakerRoot, softwareAttestation } from "../test/support/piv-attestation-maker.js";

export const MALFORMED = [
  "bad-signature",
  "tampered",
  "partial",
  "bad-json",
  "untrusted-root",
  "wrong-card",
  "wrong-slot",
  "duplicate",
  "replay",
  "card-in-use",
] as const;
export type Malformed = (typeof MALFORMED)[number];

/** A whole number in [lo, hi) from the injected Random. */
const randomInt = (lo: number, hi: number) => lo + (Buffer.from(cryptoRandom.bytes(6)).readUIntBE(0, 6) % (hi - lo));
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

export interface SimCard {
  readonly orderId: string;
  readonly batchId: string;
  readonly cardSerial: string;
  readonly holderName: string;
  /** PKCS#8 PEM of the chip's key (a real bureau never has it: here it is the card in the tester's hand). */
  readonly privateKey: string;
  readonly certificate?: string;
}

/** A file from the RA as its schemas say, or the simulator stops naming each problem (a bureau checks what it gets). */
function checked<H, L>(
  what: string,
  f: { header?: H; lines: { value: L }[]; problems: { line: number; problem: string }[] },
): { header: H; cards: L[] } {
  if (f.problems.length > 0 || !f.header)
    throw new Error(`${what}: ${f.problems.map((p) => `line ${p.line}: ${p.problem}`).join("; ") || "no header"}`);
  return { header: f.header, cards: f.lines.map((l) => l.value) };
}

export class BureauSim {
  readonly me: ExchangeIdentity;
  private readonly ra: ExchangeIdentity;
  private readonly seen: Set<string>;
  constructor(
    private readonly drop: DropFolder,
    private readonly state: string,
    me: ExchangeIdentity,
  ) {
    this.me = me;
    this.ra = readExchangeIdentity(state, "ra-exchange", false);
    const seenFile = join(state, "seen.json");
    this.seen = new Set(existsSync(seenFile) ? (JSON.parse(readFileSync(seenFile, "utf8")) as string[]) : []);
  }

  /** The bureau's exchange identity in `state` (made on first use); the RA installs `bureau.crt`. */
  static async identity(state: string): Promise<ExchangeIdentity> {
    mkdirSync(state, { recursive: true });
    return existsSync(join(state, "bureau.crt"))
      ? readExchangeIdentity(state, "bureau", true)
      : createExchangeIdentity(state, "bureau", {
          subject: "CN=cardpki bureau simulator,O=Card Bureau TEST",
          rsa: true,
          clock: systemClock,
          random: cryptoRandom,
        });
  }

  private remember(name: string): void {
    this.seen.add(name);
    writeFileSync(join(this.state, "seen.json"), JSON.stringify([...this.seen]));
  }

  private async send(name: string, data: Uint8Array, o: { badSignature?: boolean; tamper?: boolean } = {}) {
    const sig = await signDetached(data, this.me);
    if (o.badSignature) sig[sig.length - 10]! ^= 0xff;
    let out = data;
    if (o.tamper) {
      const s = Buffer.from(data)
        .toString("utf8")
        .replace(/"cardSerial":"(\d)/, (_m, d) => `"cardSerial":"${(Number(d) + 1) % 10}`);
      out = new Uint8Array(Buffer.from(s, "utf8"));
    }
    await this.drop.put("from-bureau", name, out);
    await this.drop.put("from-bureau", `${name}.p7s`, sig);
  }

  /** One pass over the drop folder; what it did. */
  async pass(malformed?: Malformed): Promise<string[]> {
    const did: string[] = [];
    for (const name of await this.drop.list("to-bureau")) {
      if (this.seen.has(name)) continue;
      if (name.endsWith(".jsonl.p7e")) {
        const base = name.slice(0, -".p7e".length);
        const sigName = `${base}.p7s`;
        const names = await this.drop.list("to-bureau");
        if (!names.includes(sigName)) continue; // the signature comes next
        const plain = await decryptWith(await this.drop.get("to-bureau", name), this.me);
        await verifyDetached(plain, await this.drop.get("to-bureau", sigName), this.ra.certDer);
        did.push(...(await this.answer(plain, malformed)));
        this.remember(name);
      } else if (name.endsWith(".certificates.jsonl")) {
        const names = await this.drop.list("to-bureau");
        if (!names.includes(`${name}.p7s`)) continue;
        const data = await this.drop.get("to-bureau", name);
        await verifyDetached(data, await this.drop.get("to-bureau", `${name}.p7s`), this.ra.certDer);
        did.push(...(await this.ship(data)));
        this.remember(name);
      }
    }
    return did;
  }

  /** The serial of a card made (and loaded with its certificate) earlier. */
  private earlierCardSerial(): number {
    const dir = join(this.state, "cards");
    for (const f of existsSync(dir) ? readdirSync(dir) : []) {
      const card = JSON.parse(readFileSync(join(dir, f), "utf8")) as SimCard;
      if (card.certificate) return Number(card.cardSerial);
    }
    throw new Error("card-in-use: no card with a certificate was made before");
  }

  private cardFile(orderId: string): string {
    return join(this.state, "cards", `${orderId}.json`);
  }

  private async answer(plain: Uint8Array, malformed?: Malformed): Promise<string[]> {
    const { header: head, cards } = checked("batch file", parseJsonLines(plain, BatchHeader, BatchCard));
    const batchId = head.batchId;
    const now = systemClock.now().toISOString();
    const ack = `S-${batchId}-ack`;
    const ackHeader: StatusHeader = { type: "status", format: STATUS_FORMAT, statusId: ack, batchId, createdAt: now };
    await this.send(
      `${ack}.status.jsonl`,
      jsonLines([
        ackHeader,
        ...cards.map((c): StatusCard => ({ type: "card", orderId: c.orderId, status: "acknowledged" })),
      ]),
    );
    const maker = loadOrCreateMakerRoot(join(this.state, "maker"));
    const stranger =
      malformed === "untrusted-root" ? createMakerRoot(systemClock.now(), "an unknown card maker") : undefined;
    mkdirSync(join(this.state, "cards"), { recursive: true });
    const lines: AnswerCard[] = [];
    const reused = malformed === "card-in-use" ? this.earlierCardSerial() : undefined;
    const serials = new Set<number>();
    for (const [i, c] of cards.entries()) {
      // Chips have distinct serials: drawn again on a collision (a 10,000-card batch would otherwise repeat one).
      let serial = i === 0 && reused !== undefined ? reused : randomInt(10_000_000, 99_999_999);
      while (i > 0 && serials.has(serial)) serial = randomInt(10_000_000, 99_999_999);
      serials.add(serial);
      const privateKey: KeyObject = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
      const a = softwareAttestation(i === 0 && stranger ? stranger : maker, {
        cardSerial: serial,
        privateKey,
        ...(i === 0 && malformed === "wrong-slot" ? { slot: 0x9c } : {}),
      });
      const card: SimCard = {
        orderId: c.orderId,
        batchId,
        cardSerial: String(serial),
        holderName: c.layout.holderName,
        privateKey: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
      };
      writeFileSync(this.cardFile(c.orderId), JSON.stringify(card, null, 2), { mode: 0o600 });
      lines.push({
        type: "card",
        orderId: c.orderId,
        cardSerial: i === 0 && malformed === "wrong-card" ? String(serial + 1) : String(serial),
        publicKey: b64(a.spki),
        attestation: { certificate: b64(a.certificate), intermediate: b64(a.intermediate) },
      });
    }
    if (malformed === "duplicate") lines.push(lines[0]!);
    const answerId = `A-${batchId}-${randomInt(1000, 9999)}`;
    const header: AnswerHeader = {
      type: "answer",
      format: ANSWER_FORMAT,
      answerId,
      batchId,
      createdAt: now,
      cards: lines.length + (malformed === "partial" ? 1 : 0),
    };
    if (malformed === "bad-json") header.cards++; // the line that is not JSON counts as a card line
    let data = jsonLines([header, ...lines]);
    if (malformed === "bad-json") data = new Uint8Array(Buffer.concat([Buffer.from(data), Buffer.from("{not json\n")]));
    const name = `${answerId}.answer.jsonl`;
    await this.send(name, data, {
      badSignature: malformed === "bad-signature",
      tamper: malformed === "tampered",
    });
    const out = [`acknowledged ${batchId}`, `answered ${batchId} in ${name}${malformed ? ` (${malformed})` : ""}`];
    if (malformed === "replay") {
      await this.send(`${answerId}-again.answer.jsonl`, data);
      out.push(`answered ${batchId} again (replay)`);
    }
    return out;
  }

  private async ship(data: Uint8Array): Promise<string[]> {
    const { header: head, cards } = checked("certificate return file", parseJsonLines(data, ReturnHeader, ReturnCard));
    for (const c of cards) {
      const f = this.cardFile(c.orderId);
      if (!existsSync(f)) continue;
      const card = JSON.parse(readFileSync(f, "utf8")) as SimCard;
      // "Loaded onto the card": the certificate must be for the chip's key.
      createPrivateKey(card.privateKey);
      writeFileSync(f, JSON.stringify({ ...card, certificate: c.certificate }, null, 2), { mode: 0o600 });
    }
    const statusId = `S-${head.batchId}-ship-${randomInt(1000, 9999)}`;
    const shipHeader: StatusHeader = {
      type: "status",
      format: STATUS_FORMAT,
      statusId,
      batchId: head.batchId,
      createdAt: systemClock.now().toISOString(),
    };
    await this.send(
      `${statusId}.status.jsonl`,
      jsonLines([
        shipHeader,
        ...cards.map((c): StatusCard => ({
          type: "card",
          orderId: c.orderId,
          status: "shipped",
          carrier: "PostNord TEST",
          trackingId: `TRK${randomInt(100_000_000, 999_999_999)}SE`,
        })),
      ]),
    );
    return [`shipped ${cards.length} cards of ${head.batchId}`];
  }
}

/** A card the simulator made, as the holder has it. */
export function simCard(state: string, orderId: string): SimCard & { key: KeyObject } {
  const c = JSON.parse(readFileSync(join(state, "cards", `${orderId}.json`), "utf8")) as SimCard;
  return { ...c, key: createPrivateKey(c.privateKey) };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      drop: { type: "string" },
      state: { type: "string" },
      once: { type: "boolean" },
      malformed: { type: "string" },
      "interval-ms": { type: "string" },
      "print-cert": { type: "boolean" },
    },
    strict: true,
  });
  if (!values.state) throw new Error("--state DIR is required (the bureau's own key, attestation root and cards)");
  const me = await BureauSim.identity(values.state);
  loadOrCreateMakerRoot(join(values.state, "maker"));
  if (values["print-cert"]) {
    console.log(join(values.state, "bureau.crt"));
    console.log(join(values.state, "maker", "maker-root.pem"));
    return 0;
  }
  if (!values.drop) throw new Error("--drop DIR is required");
  const malformed = values.malformed as Malformed | undefined;
  if (malformed && !MALFORMED.includes(malformed)) throw new Error(`--malformed is one of ${MALFORMED.join(", ")}`);
  const sim = new BureauSim(folderDrop(values.drop), values.state, me);
  const interval = Number(values["interval-ms"] ?? 1000);
  for (;;) {
    for (const line of await sim.pass(malformed)) console.log(line);
    if (values.once) return 0;
    await new Promise((r) => setTimeout(r, interval));
  }
}

if (process.argv[1]?.endsWith("bureau-sim.js"))
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(`bureau-sim: ${(e as Error).message}`);
      process.exit(1);
    },
  );
