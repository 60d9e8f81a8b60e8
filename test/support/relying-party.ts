// Shared by the relying-party tests (NSS, nginx): the demo CA and RA running with a base URL that
// resolves (http://127.0.0.1:<port>), so the OCSP URL in a card certificate's AIA and the CRL in its
// CRL distribution point are the ones a relying party actually fetches; cards through their life
// (on hold from issuance, active after the holder's activation, suspended, revoked); an expired card
// of our own issuing CA; a card of another CA (a test CA made with openssl).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { demoOrderInProduction, staffActor } from "../../src/composition/demo-orders.js";
import { DEMO_OFFICERS } from "../../src/composition/demo-setup.js";
import { CertificateIssuer } from "../../src/ca/certificate-issuer.js";
import { FixedClock } from "../../src/shared/clock.js";
import { toPem } from "../../src/asn1/der.js";
import type { Actor } from "../../src/ra/order.js";
import { expect } from "chai";
import { demoEnvReady, run, waitFor, type DemoEnv } from "./environment.js";
import { freePort } from "./free-port.js";
import { startDeliveryPeers, type DeliveryPeers } from "./delivered.js";
import { produceAttested, trustFixtureMaker, trustVirtualCardMaker } from "./attestation-fixture.js";
import { activateWithSoftwareKey } from "./activation.js";
import { testKey } from "./keys.js";
import { ORG_SUBJECT } from "./test-ca.js";
import { cardRequest, personaliseForOrder } from "./card-client.js";
import { VIRTUAL_READER } from "./virtual-card.js";
import { CardActivation } from "../../src/card/card-activation.js";
import { PcscTransport } from "../../src/card/pcsc-transport.js";
import { cryptoRandom } from "../../src/shared/random.js";

export interface RpCa {
  readonly env: DemoEnv;
  readonly svc: Service;
  readonly peers: DeliveryPeers;
  /** The public service (OCSP, CRLs, CA certificates): the base URL in every certificate it issues. */
  readonly url: string;
  readonly dir: string;
  /** PEM files: the demo root, the issuing CA, and both (root last). */
  readonly rootFile: string;
  readonly issuingFile: string;
  readonly chainFile: string;
  stop(): Promise<void>;
}

let orgSeq = 0;
/** A fresh organisation number per order (one holder per organisation). */
export function freshOrgNumber(prefix: string): string {
  orgSeq += 1;
  return `${prefix}${String((Date.now() + orgSeq * 7919) % 1e8).padStart(8, "0")}`;
}

/**
 * The demo CA + RA (SQLite) on 127.0.0.1 with a base URL that resolves; delivery to this test's SMTP server and SMS
 * stub; `o.env` adds settings (e.g. CARDPKI_POLICY_DIR for policies of the test's own).
 */
export async function startRpCa(
  ctx: Mocha.Context,
  name: string,
  o: { virtualCard?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<RpCa> {
  const env = await demoEnvReady(ctx, "sqlite");
  trustFixtureMaker(env.caStore); // REQ-14: software test cards' maker root
  if (o.virtualCard) trustVirtualCardMaker(env.caStore); // and the virtual PIV card's (its stack started)
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const peers = await startDeliveryPeers();
  let svc: Service;
  try {
    svc = await startService(
      loadConfig({
        ...env.env,
        ...peers.env,
        CARDPKI_HOST: "127.0.0.1",
        CARDPKI_PORT: String(port),
        CARDPKI_RA_PORT: "0",
        CARDPKI_BASE_URL: url,
        ...o.env,
      }),
      { eventPollMs: 100, crlTickMs: 300 },
    );
  } catch (e) {
    await peers.stop();
    throw e;
  }
  const dir = mkdtempSync(join(tmpdir(), `rp-${name}-`));
  const rootFile = join(env.caStore, "demo-root", "cert.pem");
  const issuingFile = join(env.caStore, "demo-issuing", "cert.pem");
  const chainFile = join(dir, "ca-chain.pem");
  writeFileSync(chainFile, readFileSync(issuingFile, "utf8") + readFileSync(rootFile, "utf8"));
  return {
    env,
    svc,
    peers,
    url,
    dir,
    rootFile,
    issuingFile,
    chainFile,
    stop: async () => {
      await svc.stop();
      await peers.stop();
    },
  };
}

/**
 * The full CRLs of the issuing CA and the root over HTTP from the CDP's service: `<dir>/demo-issuing.crl`,
 * `<dir>/demo-root.crl` (DER) and both as PEM in `<dir>/crls.pem` (a relying party that checks the whole chain needs
 * both). Returns the PEM.
 */
export async function fetchCrls(ca: RpCa): Promise<string> {
  let pem = "";
  for (const id of ["demo-issuing", "demo-root"]) {
    const r = await fetch(`${ca.url}/crl/${id}.crl`);
    expect(r.status, `CRL of ${id}`).to.equal(200);
    writeFileSync(join(ca.dir, `${id}.crl`), Buffer.from(await r.arrayBuffer()));
    const p = await run("openssl", ["crl", "-inform", "DER", "-in", join(ca.dir, `${id}.crl`)]);
    expect(p.status, p.out).to.equal(0);
    pem += p.stdout;
  }
  writeFileSync(join(ca.dir, "crls.pem"), pem);
  return pem;
}

/**
 * Until the issuing CA's full CRL lists the serial (true) or no longer does (false), within the policy's time (CPS
 * 4.9.7: 60 s), as OpenSSL reads it; `<dir>/crls.pem` then holds the CRLs that showed it.
 */
export async function crlUntil(ca: RpCa, serial: string, listed: boolean): Promise<void> {
  const ok = await waitFor(
    async () => {
      await fetchCrls(ca);
      const t = await run("openssl", [
        "crl",
        "-inform",
        "DER",
        "-in",
        join(ca.dir, "demo-issuing.crl"),
        "-noout",
        "-text",
      ]);
      return new RegExp(`Serial Number: 0*${serial.replace(/^0+/, "")}\\b`, "i").test(t.out) === listed;
    },
    60_000,
    300,
  );
  expect(ok, `CRL ${listed ? "lists" : "no longer lists"} ${serial}`).to.equal(true);
}

/** The certificate of a serial as the CA stored it (PEM). */
export async function certificatePem(ca: RpCa, serial: string): Promise<string> {
  const rec = await ca.svc.parts.store.get(serial);
  if (!rec?.der) throw new Error(`no certificate ${serial}`);
  return toPem("CERTIFICATE", rec.der);
}

/** A card's certificate through its life; the state changes go through the RA as its desks make them. */
export interface CardLife {
  readonly orderId: string;
  readonly holderId: string;
  readonly serial: string;
  readonly certPem: string;
  readonly officers: Actor[];
  /** The holder's activation (REQ-16): lifts the hold the certificate was issued with. */
  activate(): Promise<void>;
  suspend(): Promise<void>;
  resume(): Promise<void>;
  revoke(reason?: string): Promise<void>;
}

/**
 * A shipped workflow other than loa3-card-order (e.g. loa3-card-order-logon); the organisation's number (its
 * validated domain is `org<number>.example`, as demoOrderInProduction onboards it).
 */
export interface OrderOptions {
  readonly workflowId?: string;
  readonly orgNumber?: string;
}

/** The validated domain demoOrderInProduction gives the organisation with this number (REQ-01). */
export const demoOrgDomain = (orgNumber: string) => `org${orgNumber}.example`;

/**
 * A LoA3 order taken to hand-out: its card produced by `produce` (a software card, or the virtual card in the reader).
 */
export async function orderToHandOut(
  ca: RpCa,
  holder: { nationalId: string; name: string; email: string; phone: string },
  produce: (orderId: string) => Promise<{ serial: string; activate: (officers: Actor[]) => Promise<void> }>,
  o: OrderOptions = {},
): Promise<CardLife> {
  const ra = ca.svc.ra!.ra;
  const staff = await staffActor(ra, "556000-0000", DEMO_OFFICERS.ada.nationalId);
  const { orderId, holderId, officers } = await demoOrderInProduction(ca.svc.parts, ra, {
    staff,
    orgNumber: o.orgNumber ?? freshOrgNumber("57"),
    holder,
    termsToken: (id) => ca.peers.termsToken(id),
    ...(o.workflowId ? { workflowId: o.workflowId } : {}),
  });
  const made = await produce(orderId);
  await ra.orders.act(orderId, "hand-out", officers[2]!, {
    secondIdentification: {
      document: { type: "passport", number: "RP123456", expires: new Date("2035-01-01") },
      faceCompared: true,
    },
  });
  const officer = officers[0]!;
  return {
    orderId,
    holderId,
    serial: made.serial,
    certPem: await certificatePem(ca, made.serial),
    officers,
    activate: () => made.activate(officers),
    suspend: () => ra.certs.suspend(made.serial, `officer:${officer.personId}`),
    resume: () => ra.certs.resume(made.serial, `officer:${officer.personId}`),
    revoke: async (reason = "keyCompromise") => {
      await ra.certs.revoke(made.serial, reason, `officer:${officer.personId}`);
    },
  };
}

/** A software card (key in this process, attested by the software test maker) for a new order, handed out, on hold. */
export async function softwareCard(
  ca: RpCa,
  holder = { nationalId: "197003033456", name: "Cy Holder", email: "cy@rp.example", phone: "+46705550002" },
): Promise<CardLife & { keyPem: string }> {
  const ra = ca.svc.ra!.ra;
  let keyPem = "";
  const life = await orderToHandOut(ca, holder, async (orderId) => {
    const producer = await staffActor(ra, "556000-0000", DEMO_OFFICERS.ed.nationalId); // the demo's ca-operator
    const { certSerial, card } = await produceAttested(ca.svc.parts, ra, orderId, producer);
    keyPem = card.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    return {
      serial: certSerial,
      activate: async (officers) => {
        const holderId = (await ra.orderStore.load(orderId))!.applicantPersonId;
        await activateWithSoftwareKey(ra, {
          orderId,
          holderId,
          serial: certSerial,
          loa: 3,
          station: officers[2]!,
          privateKey: card.privateKey,
        });
      },
    };
  });
  return { ...life, keyPem };
}

/**
 * A card certificate of our own issuing CA (HSM key) that has expired: issued by the issuance
 * pipeline with a clock set back beyond the profile's validity. Its key is a software key.
 */
export async function expiredCertificate(
  ca: RpCa,
  o: { profileId?: string; san?: { upn?: string[]; krb5Principal?: string[] }; validatedDomains?: string[] } = {},
): Promise<{ certPem: string; keyPem: string; serial: string }> {
  const rt = ca.svc.parts;
  const key = testKey("P-256");
  const validityDays = 30;
  const issuer = new CertificateIssuer({
    profiles: rt.profiles,
    store: rt.store,
    random: rt.random,
    clock: new FixedClock(new Date(Date.now() - (validityDays + 2) * 86_400_000)),
  });
  const out = await issuer.issue(rt.authority("demo-issuing"), {
    profileId: o.profileId ?? "loa3-smartcard-auth",
    publicKey: key.spki,
    subject: { ...ORG_SUBJECT, CN: "Expired Card" },
    ...(o.san ? { san: o.san } : {}),
    ...(o.validatedDomains ? { validatedEmailDomains: o.validatedDomains } : {}),
    requestedBy: "test:expired-card",
    allowedKinds: ["end-entity"],
    validityDays,
  });
  return {
    certPem: toPem("CERTIFICATE", out.der),
    keyPem: key.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    serial: out.serial,
  };
}

/** Another CA (root + card certificate with a software key, made by openssl), same subject shape and EKUs as ours. */
export async function otherCaCard(dir: string): Promise<{ rootFile: string; certPem: string; keyPem: string }> {
  const f = (n: string) => join(dir, `other-${n}`);
  const sh = async (args: string[]) => {
    const r = await run("openssl", args);
    if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.out}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await sh(
    ["req", "-x509", ...ec, "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "2"].concat([
      "-subj",
      "/CN=Other Test CA/O=Someone Else/C=SE",
    ]),
  );
  writeFileSync(f("ext.cnf"), "extendedKeyUsage=clientAuth,1.3.6.1.4.1.311.20.2.2\nkeyUsage=digitalSignature\n");
  await sh([
    "req",
    "-new",
    ...ec,
    "-keyout",
    f("card.key"),
    "-out",
    f("card.csr"),
    "-subj",
    "/CN=Alice Andersson/O=Example AB/C=SE",
  ]);
  await sh(
    ["x509", "-req", "-in", f("card.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-days", "1"].concat([
      "-extfile",
      f("ext.cnf"),
      "-out",
      f("card.pem"),
    ]),
  );
  const { readFileSync } = await import("node:fs");
  return {
    rootFile: f("ca.pem"),
    certPem: readFileSync(f("card.pem"), "utf8"),
    keyPem: readFileSync(f("card.key"), "utf8"),
  };
}

/**
 * The virtual PIV card in the reader, personalised by the RA's card station for a new order (RA API as the
 * demo's ca-operator) and handed out: on hold, its key on the card. `transportPin` is the PIN as the holder got
 * it (the SMS the gateway stub received, REQ-15); `activate()` replaces it on the card with `pin` (PC/SC) and
 * activates over mTLS with the card's key (REQ-16), as test/integration/card-client.test.ts does.
 */
export async function virtualCardLife(
  ca: RpCa,
  pin: string,
  o: OrderOptions & { email?: string } = {},
): Promise<CardLife & { transportPin: string; pin: () => string }> {
  const withCard = async <T>(fn: (card: CardActivation) => Promise<T>): Promise<T> => {
    const t = new PcscTransport();
    try {
      const ch = await t.connect(VIRTUAL_READER);
      try {
        return await fn(await CardActivation.open(ch, cryptoRandom));
      } finally {
        await ch.close();
      }
    } finally {
      t.close();
    }
  };
  const config = ca.svc.parts.config;
  const ra = ca.svc.ra!.ra;
  const phone = `+4670${String(Date.now() % 1e7).padStart(7, "0")}`;
  let certPem = "";
  let current = "";
  const life = await orderToHandOut(
    ca,
    { nationalId: "197003033456", name: "Cy Holder", email: o.email ?? "cy.card@rp.example", phone },
    async (orderId) => {
      const operator = {
        certPem: readFileSync(join(config.dataDir, "demo-officers", "ed.crt"), "utf8"),
        keyPem: readFileSync(join(config.dataDir, "demo-officers", "ed.key"), "utf8"),
      };
      const p = await personaliseForOrder({ raUrl: ca.svc.ra!.url, orderId, caFile: config.ra.tlsCert, operator });
      certPem = p.certPem;
      return {
        serial: String(p.result.certSerial),
        activate: async (officers) => {
          await withCard((card) => card.replaceTransportPin(current, pin));
          current = pin;
          await ra.activation.recordPinReplacement(officers[2]!, orderId, { cardSerial: "virtual" });
          const base = `https://localhost:${new URL(ca.svc.ra!.url).port}/api/v1/holder/orders/${orderId}`;
          const tls = { caFile: config.ra.tlsCert, certPem, pin };
          const ch = await cardRequest({ method: "GET", url: `${base}/activation-challenge`, ...tls });
          if (ch.status !== 200) throw new Error(`activation challenge: ${ch.status} ${JSON.stringify(ch.body)}`);
          const sig = await withCard((card) =>
            card.signChallenge(new TextEncoder().encode(ch.body.message as string), ch.body.hash, pin),
          );
          const r = await cardRequest({
            method: "POST",
            url: `${base}/activate`,
            body: { challengeSignature: Buffer.from(sig).toString("base64") },
            ...tls,
          });
          if (r.status !== 200 || r.body.state !== "ACTIVE") throw new Error(`activate: ${JSON.stringify(r.body)}`);
        },
      };
    },
    o,
  );
  // The transport PIN, as the holder got it by another channel than the card (REQ-15).
  const letter = (await ca.peers.pin(phone)).message;
  const transportPin = /: ([0-9]{6,8})\./.exec(letter.text)![1]!;
  current = transportPin;
  return { ...life, certPem, transportPin, pin: () => current };
}
