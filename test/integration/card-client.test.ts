import { expect } from "chai";
import { createServer, type Server } from "node:https";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { loadConfig } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { demoOrderInProduction, staffActor } from "../../src/composition/demo-orders.js";
import { demoEnv, requireTool, run } from "../support/environment.js";
import { VIRTUAL_READER, freshCard, virtualCard } from "../support/virtual-card.js";
import { cardRequest, personaliseForOrder, readCardCertificate } from "../support/card-client.js";
import { trustVirtualCardMaker } from "../support/attestation-fixture.js";
import { startDeliveryPeers, type DeliveryPeers } from "../support/delivered.js";
import { CardActivation } from "../../src/card/card-activation.js";
import { PcscTransport } from "../../src/card/pcsc-transport.js";
import { cryptoRandom } from "../../src/shared/random.js";

/** The card in the virtual reader, for the activation steps on the card (PC/SC). */
async function withActivationCard<T>(fn: (card: CardActivation) => Promise<T>): Promise<T> {
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
}

/**
 * The test-support card client: HTTPS with the TLS client key on the virtual card (PIV 9A through
 * OpenSC's PKCS#11 module, curl with the pkcs11 engine), first against a small local HTTPS server
 * that records the client certificate it was shown, then a real card from the RA's card station
 * (personalised through the RA API) activated over mTLS with its on-card key.
 */
describe("test support: HTTPS with the client key on the virtual card (curl + pkcs11 engine + OpenSC)", function () {
  this.timeout(180_000);
  let dir: string;
  let server: Server;
  let url = "";
  const seen: { method: string; body: string; cert?: Buffer }[] = [];
  const sh = async (cmd: string, args: string[]) => {
    const r = await run(cmd, args);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.out}`);
    return r.stdout;
  };

  before(async function () {
    for (const t of ["curl", "openssl", "yubico-piv-tool"]) requireTool(this, t);
    virtualCard(this);
    await freshCard(0x40000000 + (Date.now() % 0x0fffffff));
    dir = mkdtempSync(join(tmpdir(), "card-client-it-"));
    // A CA of this test, a server certificate for localhost, and a client certificate for a key generated on the card.
    const f = (n: string) => join(dir, n);
    await sh("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      f("ca.key"),
      "-out",
      f("ca.pem"),
      "-subj",
      "/CN=card-client test CA",
      "-days",
      "2",
    ]);
    await sh("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      f("srv.key"),
      "-out",
      f("srv.pem"),
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost",
      "-days",
      "2",
    ]);
    await sh("yubico-piv-tool", [
      "-r",
      VIRTUAL_READER,
      "-a",
      "generate",
      "-s",
      "9a",
      "-A",
      "ECCP256",
      "-o",
      f("card-pub.pem"),
    ]);
    writeFileSync(f("ext.cnf"), "extendedKeyUsage=clientAuth\n");
    await sh("openssl", [
      "x509",
      "-new",
      "-force_pubkey",
      f("card-pub.pem"),
      "-subj",
      "/CN=Card Holder",
      "-CA",
      f("ca.pem"),
      "-CAkey",
      f("ca.key"),
      "-days",
      "1",
      "-extfile",
      f("ext.cnf"),
      "-out",
      f("card.pem"),
    ]);
    await sh("yubico-piv-tool", ["-r", VIRTUAL_READER, "-a", "import-certificate", "-s", "9a", "-i", f("card.pem")]);
    server = createServer(
      {
        key: readFileSync(f("srv.key")),
        cert: readFileSync(f("srv.pem")),
        ca: readFileSync(f("ca.pem")),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        let body = "";
        req.on("data", (d) => (body += d));
        req.on("end", () => {
          const peer = (req.socket as TLSSocket).getPeerCertificate();
          seen.push({ method: req.method!, body, ...(peer?.raw ? { cert: peer.raw } : {}) });
          res
            .writeHead(201, { "content-type": "application/json", "x-seen": "yes" })
            .end(JSON.stringify({ got: body ? JSON.parse(body) : null }));
        });
      },
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    url = `https://localhost:${(server.address() as AddressInfo).port}/echo`;
  });
  after(async () => {
    await new Promise((r) => server?.close(r));
  });

  it(`ok/a POST with the client key on the card: the server saw the card's certificate; status, JSON body and headers \
come back`, async () => {
    const certPem = readFileSync(join(dir, "card.pem"), "utf8");
    const r = await cardRequest({
      method: "POST",
      url,
      body: { hello: "card" },
      caFile: join(dir, "srv.pem"),
      certPem,
      pin: "123456",
    });
    expect([r.status, r.body, r.headers["x-seen"]]).to.deep.equal([201, { got: { hello: "card" } }, "yes"]);
    const last = seen.at(-1)!;
    expect(last.method).to.equal("POST");
    expect(Buffer.compare(last.cert!, new X509Certificate(certPem).raw)).to.equal(0);
  });

  it("fail/a wrong PIN: the card refuses the key, no request reaches the server", async () => {
    const before = seen.length;
    const certPem = readFileSync(join(dir, "card.pem"), "utf8");
    const e = await cardRequest({ method: "GET", url, caFile: join(dir, "srv.pem"), certPem, pin: "000000" }).then(
      () => undefined,
      (x: Error) => x,
    );
    expect(e?.message).to.match(/curl exit/);
    expect(seen.length).to.equal(before);
    // One try used up, the right PIN works again (and restores the tries).
    expect(
      (await cardRequest({ method: "GET", url, caFile: join(dir, "srv.pem"), certPem, pin: "123456" })).status,
    ).to.equal(201);
  });

  describe("a real card from the RA's card station", () => {
    let svc: Service;
    let peers: DeliveryPeers;
    before(async function () {
      const d = demoEnv(this);
      trustVirtualCardMaker(d.caStore);
      await freshCard(0x50000000 + (Date.now() % 0x0fffffff));
      peers = await startDeliveryPeers(); // the service delivers to a real SMTP server and SMS stub of this test
      svc = await startService(
        loadConfig({ ...d.env, ...peers.env, CARDPKI_PORT: "0", CARDPKI_RA_PORT: "0", CARDPKI_HOST: "127.0.0.1" }),
      );
    });
    after(async () => {
      await svc?.stop();
      await peers?.stop();
    });

    it(`ok/personaliseForOrder (RA API, ca-operator) returns the certificate read from the card; the holder activates \
over mTLS with the key on the card`, async () => {
      const ra = svc.ra!.ra;
      const config = svc.parts.config;
      const staff = await staffActor(ra, "556000-0000", "199001011234");
      const { orderId, officers } = await demoOrderInProduction(svc.parts, ra, {
        staff,
        orgNumber: `54${String(Date.now() % 1e8).padStart(8, "0")}`,
        holder: {
          nationalId: "197003033456",
          name: "Cy Holder",
          email: "cy.holder@card-client.example",
          phone: "+46705550001",
        },
        termsToken: (id) => peers.termsToken(id),
      });
      const operator = {
        certPem: readFileSync(join(config.dataDir, "demo-officers", "ed.crt"), "utf8"),
        keyPem: readFileSync(join(config.dataDir, "demo-officers", "ed.key"), "utf8"),
      }; // the demo's ca-operator
      const p = await personaliseForOrder({ raUrl: svc.ra!.url, orderId, caFile: config.ra.tlsCert, operator });
      expect(p.result.keyAttested).to.equal(true);
      expect(new X509Certificate(p.certPem).serialNumber.toLowerCase().replace(/^0+/, "")).to.equal(
        String(p.result.certSerial).replace(/^0+/, ""),
      );
      expect(p.certPem).to.equal(await readCardCertificate());
      await ra.orders.act(orderId, "hand-out", officers[2]!, {
        secondIdentification: {
          document: { type: "passport", number: "CC123456", expires: new Date("2035-01-01") },
          faceCompared: true,
        },
      });
      // The transport PIN, as the holder got it by another channel than the card: the SMS the gateway stub received
      // (REQ-15).
      const letter = (await peers.pin("+46705550001")).message;
      expect(letter.text, "in the holder's language (a Swedish organisation)").to.match(
        /^Transport-PIN för ditt kort /,
      );
      const pin = /: ([0-9]{6,8})\./.exec(letter.text)![1]!;
      const base = new URL(svc.ra!.url);
      // REQ-16: the holder replaces the transport PIN on the card (PC/SC) and the station records it; the card fetches
      // the RA's challenge over mTLS with its held certificate, signs it under the new PIN and activates.
      const newPin = "592817";
      await withActivationCard((card) => card.replaceTransportPin(pin, newPin));
      await ra.activation.recordPinReplacement(officers[2]!, orderId, { cardSerial: "virtual" });
      const ch = await cardRequest({
        method: "GET",
        url: `https://localhost:${base.port}/api/v1/holder/orders/${orderId}/activation-challenge`,
        caFile: config.ra.tlsCert,
        certPem: p.certPem,
        pin: newPin,
      });
      expect(ch.status, JSON.stringify(ch.body)).to.equal(200);
      const sig = await withActivationCard((card) =>
        card.signChallenge(new TextEncoder().encode(ch.body.message), ch.body.hash, newPin),
      );
      const r = await cardRequest({
        method: "POST",
        url: `https://localhost:${base.port}/api/v1/holder/orders/${orderId}/activate`,
        body: { challengeSignature: Buffer.from(sig).toString("base64") },
        caFile: config.ra.tlsCert,
        certPem: p.certPem,
        pin: newPin,
      });
      expect([r.status, r.body.state], JSON.stringify(r.body)).to.deep.equal([200, "ACTIVE"]);
    });
  });
});
