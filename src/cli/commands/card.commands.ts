import { CaError } from "../../shared/ca-error.js";
import { loadConfig } from "../../composition/config.js";
import { withCardStation } from "../../composition/card-station-role.js";
import { fieldCipher } from "../../composition/data-keys.js";
import { cardsWith, listReaders, type Cards } from "../../composition/cards.js";
import { NO_PRODUCTION, stationClient, stationProduction } from "../../composition/ra-api-client.js";
import { OPERATOR_OPTION, operatorArg, readFileArg, recordedBy, requireString, type Command } from "../command.js";
import { activateAtStation } from "../../composition/card-activation.js";
import { cryptoRandom } from "../../shared/random.js";

const READER = {
  type: "string" as const,
  description: "PC/SC reader name (default: CARDPKI_CARD_READER, else the only reader holding a card)",
};
const OFFICER = {
  operator: OPERATOR_OPTION,
  cert: {
    type: "string" as const,
    description: "the station officer's client certificate (PEM; default card.officerCert / CARDPKI_CARD_OFFICER_CERT)",
  },
  key: {
    type: "string" as const,
    description: "its private key (PEM; default card.officerKey / CARDPKI_CARD_OFFICER_KEY)",
  },
  "ra-url": {
    type: "string" as const,
    description: "the RA API (default card.raUrl / CARDPKI_CARD_RA_URL, https://localhost:<ra port>)",
  },
  "ra-ca": {
    type: "string" as const,
    description: "the RA server's certificate or CA (PEM; default card.raCa, else the RA's own ra.tlsCert)",
  },
};

type Channel = Awaited<ReturnType<ReturnType<Cards["transport"]>["connect"]>>;

/** The station officer's certificate, key, RA URL and RA CA from the command line (defaults in the configuration). */
const officerOptions = (v: Record<string, unknown>) => ({
  ...(typeof v.cert === "string" ? { cert: v.cert } : {}),
  ...(typeof v.key === "string" ? { key: v.key } : {}),
  ...(typeof v["ra-url"] === "string" ? { raUrl: v["ra-url"] } : {}),
  ...(typeof v["ra-ca"] === "string" ? { raCa: v["ra-ca"] } : {}),
});

/**
 * Runtime, card wiring and (unless `noCard`) the card in the reader for one command; prints the
 * result as JSON. Commands that act on orders or certificates go through the RA API as the station's
 * officer. Everything is closed afterwards: readers, PC/SC context, database (no hanging process).
 */
async function onCard(
  v: Record<string, unknown>,
  fn: (cards: Cards, ch: Channel | undefined) => Promise<unknown>,
  opts: { noCard?: boolean; officer?: boolean } = {},
): Promise<number> {
  const config = loadConfig();
  if (opts.officer) operatorArg(v); // validated before anything opens
  const result = await withCardStation(config, async (rt) => {
    const production = opts.officer ? await stationProduction(rt, officerOptions(v)) : NO_PRODUCTION;
    const cards = cardsWith(rt, await fieldCipher(rt), production);
    return opts.noCard ? fn(cards, undefined) : cards.withCard(v.reader as string | undefined, (ch) => fn(cards, ch));
  });
  console.log(JSON.stringify(result, null, 2));
  return 0;
}
/** The station operator as the card ledger records them: validated name and OS user (the RA records the officer). */
const actorOf = (v: Record<string, unknown>) => `operator:${operatorArg(v)}`;

/** A PIN from a file (first line), never from the command line where `ps` would show it. */
function pinFile(v: Record<string, unknown>, name: string): string {
  const pin = Buffer.from(readFileArg(requireString(v, name)))
    .toString("utf8")
    .split(/\r?\n/)[0]!
    .trim();
  if (!/^[0-9]{6,8}$/.test(pin))
    throw new CaError("invalid-input", `--${name}: the file must hold a PIN of 6 to 8 digits`);
  return pin;
}

const listReadersCmd: Command = {
  name: "list-readers",
  summary: "List PC/SC readers and whether each holds a card.",
  usage: "card list-readers",
  options: {},
  async run() {
    console.log(JSON.stringify(await listReaders(), null, 2));
    return 0;
  },
};

const status: Command = {
  name: "status",
  summary: "What is on the card (serial, PIN tries left, certificates per slot) and what we recorded about it.",
  usage: "card status [--reader NAME]",
  options: { reader: READER },
  async run(v) {
    return onCard(v, (cards, ch) => cards.lifecycle.status(ch!));
  },
};

const personalise: Command = {
  name: "personalise",
  summary:
    "Personalise the card in the reader for an order in production: on-card key, " +
    "certificate, CHUID, PIN/PUK by policy (REQ-12..16).",
  usage:
    "card personalise --order ID --operator NAME --cert FILE --key FILE [--reader NAME] [--ra-url URL] [--ra-ca FILE]",
  options: {
    order: { type: "string", description: "the card order (state IN_PRODUCTION)" },
    reader: READER,
    ...OFFICER,
  },
  async run(v) {
    const orderId = requireString(v, "order");
    return onCard(
      v,
      (cards, ch) => cards.job((step) => void console.error(`  ${step}`)).run(orderId, ch!, actorOf(v)),
      { officer: true },
    );
  },
};

const unblock: Command = {
  name: "unblock",
  summary:
    "Officer-assisted unblock: the PUK on record resets the PIN; the new PIN " +
    "goes to the holder by another channel (audited).",
  usage: "card unblock --operator NAME --cert FILE --key FILE [--reader NAME] [--channel sms|mail|email]",
  options: {
    reader: READER,
    channel: { type: "string", description: "how the new PIN reaches the holder (default sms)" },
    ...OFFICER,
  },
  async run(v) {
    const channel = (v.channel as string | undefined) ?? "sms";
    if (!["sms", "mail", "email"].includes(channel))
      throw new CaError("invalid-input", "--channel is sms, mail or email");
    return onCard(v, (cards, ch) => cards.lifecycle.unblock(ch!, actorOf(v), channel as "sms"), { officer: true });
  },
};

const changePin: Command = {
  name: "change-pin",
  summary:
    "The holder replaces the transport (or reset) PIN with their own (REQ-16); " +
    "with --order the station records it with the RA (LoA3: then the holder " +
    "activates on the holder page).",
  usage:
    "card change-pin --old-pin-file F --new-pin-file F [--reader NAME] [--order " +
    "ID --operator NAME --cert FILE --key FILE [--ra-url URL] [--ra-ca FILE]]",
  options: {
    reader: READER,
    "old-pin-file": { type: "string", description: "file holding the current PIN" },
    "new-pin-file": { type: "string", description: "file holding the new PIN" },
    order: {
      type: "string",
      description:
        "the handed-out order of this card: the station records the transport PIN " +
        "replaced with the RA as its officer (REQ-16)",
    },
    ...OFFICER,
    operator: { type: "string", description: "who assists (recorded with the OS user; required with --order)" },
  },
  async run(v) {
    const oldPin = pinFile(v, "old-pin-file");
    const newPin = pinFile(v, "new-pin-file");
    const orderId = v.order as string | undefined;
    if (orderId === undefined)
      return onCard(
        v,
        async (cards, ch) => (
          await cards.lifecycle.changePin(ch!, `holder-station:${recordedBy(v)}`, oldPin, newPin),
          { changed: true }
        ),
      );
    // REQ-16 (LoA3): the activation needs the station's record that the transport PIN was replaced on this order's
    // card.
    // The RA is asked first (officer, order handed out), so a refusal leaves the card's PIN as it was.
    operatorArg(v);
    const result = await withCardStation(loadConfig(), async (rt) => {
      const client = await stationClient(rt, officerOptions(v));
      const o = await client.call("GET", `/orders/${orderId}`);
      if (o.state !== "HANDED_OUT")
        throw new CaError(
          "conflict",
          `order ${orderId} is ${o.state}; the transport PIN is replaced on a handed-out card (REQ-16)`,
          { state: o.state },
        );
      const cards = cardsWith(rt, await fieldCipher(rt), NO_PRODUCTION);
      const changed = await cards.withCard(v.reader as string | undefined, (ch) =>
        cards.lifecycle.changePin(ch, actorOf(v), oldPin, newPin, orderId),
      );
      const recorded = await client.call("POST", `/orders/${orderId}/transport-pin-replaced`, {
        cardSerial: changed.cardSerial,
      });
      return { changed: true, cardSerial: changed.cardSerial, orderId, recorded };
    });
    console.log(JSON.stringify(result, null, 2));
    return 0;
  },
};

const text = (f: string) => Buffer.from(readFileArg(f)).toString("utf8");

const activate: Command = {
  name: "activate",
  summary:
    "Activation at the card station (REQ-16): replace the transport PIN on the " +
    "card, record it with the RA, sign the RA's challenge with the card; the RA " +
    "lifts the hold.",
  usage:
    "card activate --order ID --ra URL --ra-ca F --station-cert F --station-key " +
    "F --transport-pin-file F --new-pin-file F [--holder-key F | " +
    "--holder-key-uri URI] [--holder-cert F] [--reader NAME]",
  options: {
    order: { type: "string", description: "the handed-out order" },
    ra: { type: "string", description: "the RA API base URL (https://host:8443)" },
    "ra-ca": { type: "string", description: "PEM file of the RA server certificate (or its CA)" },
    "station-cert": {
      type: "string",
      description: "the card station's officer certificate (PEM; ra-officer or ca-operator)",
    },
    "station-key": { type: "string", description: "its key (PEM)" },
    "holder-cert": { type: "string", description: "the holder's card certificate (PEM; default: read from slot 9A)" },
    "holder-key": {
      type: "string",
      description: "the holder's key as a PEM file (demo cards with software keys only)",
    },
    "holder-key-uri": {
      type: "string",
      description: "the card's key for TLS through OpenSSL's PKCS#11 engine (default pkcs11:id=%01;type=private)",
    },
    "transport-pin-file": { type: "string", description: "file holding the transport PIN" },
    "new-pin-file": { type: "string", description: "file holding the holder's new PIN" },
    reader: READER,
  },
  async run(v) {
    const orderId = requireString(v, "order");
    const raUrl = requireString(v, "ra");
    const holderKey = v["holder-key"] as string | undefined;
    const result = await activateAtStation({
      raUrl,
      raCa: text(requireString(v, "ra-ca")),
      orderId,
      ...(v.reader ? { reader: v.reader as string } : {}),
      transportPin: pinFile(v, "transport-pin-file"),
      newPin: pinFile(v, "new-pin-file"),
      holder: {
        ...(v["holder-cert"] ? { cert: text(v["holder-cert"] as string) } : {}),
        ...(holderKey
          ? { key: text(holderKey) }
          : { keyUri: (v["holder-key-uri"] as string | undefined) ?? "pkcs11:id=%01;type=private" }),
      },
      station: { cert: text(requireString(v, "station-cert")), key: text(requireString(v, "station-key")) },
      random: cryptoRandom,
    });
    console.log(JSON.stringify(result, null, 2));
    return 0;
  },
};

const retire: Command = {
  name: "retire",
  summary: "Retire the card in the reader: revoke its certificate, remove its objects and zeroise it (PIV reset).",
  usage: "card retire --reason R --operator NAME --cert FILE --key FILE [--reader NAME]",
  options: {
    reader: READER,
    reason: {
      type: "string",
      description: "RFC 5280 reason for its certificate (e.g. cessationOfOperation, keyCompromise)",
    },
    ...OFFICER,
  },
  async run(v) {
    const reason = requireString(v, "reason");
    return onCard(v, (cards, ch) => cards.lifecycle.retire(ch!, actorOf(v), reason), { officer: true });
  },
};

const lost: Command = {
  name: "lost",
  summary:
    "A card reported lost or stolen: revoke its certificate (keyCompromise) and " +
    "bar the card; the replacement is a new order.",
  usage: "card lost --order ID --operator NAME --cert FILE --key FILE",
  options: { order: { type: "string", description: "the order the lost card was made for" }, ...OFFICER },
  async run(v) {
    const orderId = requireString(v, "order");
    return onCard(v, (cards) => cards.lifecycle.reportLost(orderId, actorOf(v)), { noCard: true, officer: true });
  },
};

export const cardCommands = {
  name: "card",
  summary: "Smart cards: list-readers, status, personalise, activate, unblock, change-pin, retire, lost",
  commands: [listReadersCmd, status, personalise, activate, unblock, changePin, retire, lost],
};
