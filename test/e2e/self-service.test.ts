import { expect } from "chai";
import { orderReference } from "../../src/shared/order-reference.js";
import { X509Certificate, sign } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { loadConfig } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { demoEnv, requireTool, type DemoEnv } from "../support/environment.js";
import { attestedCardFor, trustFixtureMaker } from "../support/attestation-fixture.js";
import { REPO_ROOT } from "../support/test-ca.js";
import { startDeliveryPeers, type DeliveryPeers } from "../support/delivered.js";
import { demoOfficerCreds, officerApi } from "../support/ra-client.js";
import { expectOcsp } from "../support/ocsp-judged.js";

const APPLICANT = "197003033456"; // alive in the demo register
const ARTIFACTS = join(REPO_ROOT, "test-artifacts", "self-service");

/**
 * The applicant page and the holder pages in Debian's headless Chromium (playwright-core), every
 * step through a public surface: the demo officers act over the RA API with their own client
 * certificates (REQ-10: bo and cy identify, di approves and releases, ed produces, fi hands out);
 * the applicant opens the link from the terms mail the SMTP server received, ticks the box,
 * accepts and sees the progress (REQ-06); the holder signs in with the card's client certificate,
 * activates a LoA3 card with the card's signature and a LoA2 card with the activation code the
 * SMS stub received (REQ-15/16), and suspends and resumes a card (REQ-17); `openssl ocsp` judges
 * the certificate after each step.
 */
describe("applicant and holder pages in headless Chromium", function () {
  this.timeout(240_000);
  let d: DemoEnv;
  let svc: Service;
  let peers: DeliveryPeers;
  let browser: Browser;
  let api: ReturnType<typeof officerApi>;
  const stamp = String(Date.now() % 1e8).padStart(8, "0");
  const doc = {
    type: "passport",
    number: "XP112233",
    expires: new Date(Date.now() + 3650 * 86_400_000).toISOString().slice(0, 10),
  };

  /**
   * Contract 2: `<ra.publicUrl>/applicant/#order=<id>&token=<token>`, the link in the terms mail the SMTP server
   * received (REQ-06).
   */
  async function applicantLinkFor(orderId: string): Promise<string> {
    return peers.termsLink(orderId);
  }
  const as = (who: string, method: string, path: string, body?: unknown) => api.as(who, method, path, body);
  const ok = <T = any>(p: ReturnType<typeof as>, status = 200): Promise<T> => api.ok(p, status);
  /**
   * ada (ra-admin, service-owner staff) registers and onboards a customer organisation and binds a person (REQ-01,
   * REQ-21).
   */
  async function organisationWith(
    orgNumber: string,
    name: string,
    person: { nationalId: string; name: string; email: string; phone?: string },
  ) {
    const org = await ok(as("ada", "POST", "/organisations", { orgNumber, name, country: "SE" }), 201);
    const onboarded = await ok(
      as("ada", "POST", `/organisations/${org.id}/onboarding`, {
        registrationCertificate: "e2e",
        domain: `${orgNumber}.example`,
        domainValidationMethod: "dns-txt",
      }),
    );
    expect(onboarded.status).to.equal("active");
    const p = await ok(as("ada", "POST", `/organisations/${org.id}/people`, person), 201);
    return { orgId: org.id as string, personId: p.id as string };
  }
  /** The applicant accepts the terms on the applicant page, opened from the link in their mail. */
  async function acceptInBrowser(orderId: string) {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await ctx.newPage();
    await page.goto(await applicantLinkFor(orderId));
    await page.getByLabel(/I have read the terms of use \(version 2026-01\) and accept them/).check();
    await page.getByRole("button", { name: "Accept the terms" }).click();
    await page.getByText("Thank you: you accepted the terms of use (version 2026-01).").waitFor();
    await ctx.close();
  }

  before(async function () {
    d = demoEnv(this);
    trustFixtureMaker(d.caStore); // REQ-14: the software test cards' maker root
    requireTool(this, "chromium");
    requireTool(this, "openssl");
    mkdirSync(ARTIFACTS, { recursive: true });
    peers = await startDeliveryPeers(); // the service delivers to a real SMTP server and SMS stub of this test
    const config = loadConfig({
      ...d.env,
      ...peers.env,
      CARDPKI_PORT: "0",
      CARDPKI_RA_PORT: "0",
      CARDPKI_HOST: "127.0.0.1",
    });
    svc = await startService(config);
    // The demo's initial staff group, each with their own client certificate (contract 7).
    api = officerApi(new URL(svc.ra!.url), readFileSync(config.ra.tlsCert, "utf8"), demoOfficerCreds(config.dataDir));
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-default-apps",
      ],
    });
  });
  after(async () => {
    await browser?.close();
    await svc?.stop();
    await peers?.stop();
  });
  const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  it(`ok/the applicant opens the link, reads the terms, ticks the (unticked) box, accepts and sees the progress; \
fail/accepting without ticking, the link a second time`, async () => {
    const { personId } = await organisationWith(`57${stamp}`, "Applicant Kund AB", {
      nationalId: APPLICANT,
      name: "Cy Applicant",
      email: "cy.applicant@applicant.example",
    });
    const order = await ok(
      as("bo", "POST", "/orders", { personId, workflowId: "loa3-card-order", nationalId: APPLICANT }),
      201,
    );
    expect(order.state).to.equal("REQUESTED");
    const link = await applicantLinkFor(order.id);

    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on(
      "console",
      (m) => void (m.type() === "error" && !/status of 4\d\d/.test(m.text()) && errors.push(m.text())),
    );
    await page.goto(link);
    await page.getByRole("heading", { name: "Your card order" }).waitFor();
    expect(page.url(), "the token leaves the address bar").to.not.include("token=");
    await page.getByRole("heading", { name: /Terms of use for your eID card/ }).waitFor();
    const box = page.getByLabel(/I have read the terms of use \(version 2026-01\) and accept them/);
    expect(await box.isChecked(), "never pre-ticked (REQ-06)").to.equal(false);
    await shot(page, "01-applicant-terms");
    await page.getByRole("button", { name: "Accept the terms" }).click();
    await page.locator("#message.error").waitFor();
    expect(await page.locator("#message").textContent()).to.match(
      /The terms must be accepted actively: tick the box to accept them\./,
    );
    expect((await ok(as("bo", "GET", `/orders/${order.id}`))).state, "refused: the order stays REQUESTED").to.equal(
      "REQUESTED",
    );
    await box.check();
    await page.getByRole("button", { name: "Accept the terms" }).click();
    await page.getByText("Thank you: you accepted the terms of use (version 2026-01).").waitFor();
    expect(await page.locator("#status").textContent()).to.match(
      /You accepted the terms. Next, visit your registration office/,
    );
    expect(await page.locator("ol.steps li[aria-current=step]").textContent()).to.match(/^Identification in person/);
    expect(await page.getByText("You accepted the terms of use, version 2026-01.").isVisible()).to.equal(true);
    await shot(page, "02-applicant-progress");
    const cookie = (await ctx.cookies()).find((c) => c.name === "cardpki_applicant")!;
    expect([cookie.httpOnly, cookie.secure, cookie.sameSite, cookie.path]).to.deep.equal([
      true,
      true,
      "Strict",
      "/api/v1/applicant",
    ]);
    // The officer sees the acceptance over the RA API.
    const accepted = await ok(as("bo", "GET", `/orders/${order.id}`));
    expect([accepted.state, accepted.termsVersion]).to.deep.equal(["TERMS_ACCEPTED", "2026-01"]);
    // A reload keeps the session (the fragment is gone, the token used).
    await page.reload();
    await page.locator("#status", { hasText: "You accepted the terms" }).waitFor();
    expect(errors).to.deep.equal([]);

    // The same link in another browser: used.
    const other = await browser.newContext({ ignoreHTTPSErrors: true });
    const p2 = await other.newPage();
    await p2.goto(link);
    await p2.getByRole("heading", { name: "This link cannot be used" }).waitFor();
    expect(await p2.locator("#problem").textContent()).to.match(/already been used/);
    await shot(p2, "03-applicant-link-used");
    await other.close();
    await ctx.close();
  });

  it(`ok/from the terms mail to an active card and back: the applicant accepts from the mail's link, bo and cy \
identify, di releases, ed produces, fi hands out; the holder signs in with the card, activates (LoA3 by the card's \
signature, LoA2 by the code from the SMS stub), suspends and resumes on the holder pages; openssl ocsp after each \
step; fail/a wrong activation code`, async () => {
    const phone = "+46705550004";
    const { personId } = await organisationWith(`58${stamp}`, "Holder Kund AB", {
      nationalId: APPLICANT,
      name: "Cy Holder",
      email: "cy.holder@holder.example",
      phone,
    });
    const dir = mkdtempSync(join(tmpdir(), "holder-"));
    const ocsp = { url: svc.url, caStore: d.caStore };
    /**
     * One card order from request to hand-out, each step by the officer the workflow's separation
     * matrix allows (REQ-10). Card source: a software card of the test maker with its PIV
     * attestation (REQ-14), recorded for the order as the card station records it; produced over the
     * RA API by ed. Chromium presents the software key (the virtual card's key cannot be handed to
     * the browser here; the portal test personalises the virtual card).
     */
    const orderToHandOut = async (workflowId: "loa3-card-order" | "loa2-card-order") => {
      const order = await ok(as("bo", "POST", "/orders", { personId, workflowId, nationalId: APPLICANT }), 201);
      await acceptInBrowser(order.id);
      await ok(as("bo", "POST", `/orders/${order.id}/actions/identify`, { document: doc, faceCompared: true }));
      if (workflowId === "loa3-card-order")
        await ok(
          as("cy", "POST", `/orders/${order.id}/actions/identify`, {
            document: { ...doc, type: "national-id-card" },
            faceCompared: true,
          }),
        );
      await ok(as("di", "POST", `/orders/${order.id}/actions/approve`, {}));
      await ok(as("di", "POST", `/orders/${order.id}/actions/start-production`, {}));
      const card = await attestedCardFor(svc.parts, svc.ra!.ra, order.id);
      const produced = await ok(as("ed", "POST", `/orders/${order.id}/actions/produce`, card.body));
      expect(produced.state).to.equal("PRODUCED");
      const cert = new X509Certificate(Buffer.from(produced.certificate, "base64"));
      const paths = { certPath: join(dir, `${cert.serialNumber}.crt`), keyPath: join(dir, `${cert.serialNumber}.key`) };
      writeFileSync(paths.certPath, cert.toString());
      writeFileSync(paths.keyPath, card.privateKey.export({ type: "pkcs8", format: "pem" }));
      const certPem = cert.toString();
      // REQ-16: issued on hold
      await expectOcsp({ ...ocsp, certPem }, "certificateHold", `production of ${workflowId}`);
      const handedOut = await ok(
        as("fi", "POST", `/orders/${order.id}/actions/hand-out`, {
          secondIdentification: { document: doc, faceCompared: true },
        }),
      );
      expect(handedOut.state).to.equal("HANDED_OUT");
      // still on hold until the holder activates
      await expectOcsp({ ...ocsp, certPem }, "certificateHold", `hand-out of ${workflowId}`);
      return {
        orderId: order.id as string,
        serial: cert.serialNumber.toLowerCase(),
        certPem,
        privateKey: card.privateKey,
        ...paths,
      };
    };
    const holderBrowser = async (card: { certPath: string; keyPath: string }) => {
      const ctx = await browser.newContext({
        ignoreHTTPSErrors: true,
        clientCertificates: [{ origin: svc.ra!.url, certPath: card.certPath, keyPath: card.keyPath }],
      });
      const page = await ctx.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      return { ctx, page, errors };
    };

    // The LoA3 card: two identifiers, a third officer hands out.
    const card1 = await orderToHandOut("loa3-card-order");
    const identified = await ok(as("fi", "GET", `/orders/${card1.orderId}`));
    expect(identified.certificateSerial).to.equal(card1.serial);
    expect(
      new Set(identified.identifications.map((i: { by: string }) => i.by)).size,
      "two identifiers (REQ-04)",
    ).to.equal(2);

    const { ctx, page, errors } = await holderBrowser(card1);
    await page.goto(`${svc.ra!.url}/holder/`);
    await page.getByText("Signed in with your LoA3 card").waitFor();
    const session = (await ctx.cookies()).find((c) => c.name === "cardpki_session")!;
    expect([session.httpOnly, session.secure, session.sameSite]).to.deep.equal([true, true, "Strict"]);
    // REQ-16: the card is on hold until activation: signed in with it, the holder sees the activation step only.
    await page.getByRole("button", { name: "Activate my card" }).waitFor();
    expect(await page.locator('nav a[href="#/cards"]').isVisible()).to.equal(false);
    await shot(page, "04-holder-activation-step");
    // fi's card station records that the holder replaced the transport PIN (the station's RA API route); the card
    // signs the RA's challenge shown on the page (here the test plays the holder's card client with the software key).
    await ok(as("fi", "POST", `/orders/${card1.orderId}/transport-pin-replaced`, { cardSerial: "software-card" }));
    await page.reload();
    const message = (await page.locator("#activation-message").textContent())!;
    expect(message).to.match(new RegExp(`^cardpki-activation-v1:${card1.orderId}:`));
    await page
      .getByLabel("The card's signature over this text (base64)")
      .fill(sign("sha256", Buffer.from(message), card1.privateKey).toString("base64"));
    await page.getByRole("button", { name: "Activate my card" }).click();
    await page.getByRole("heading", { name: "Change your PIN" }).waitFor();
    expect(await page.locator("#message").textContent()).to.match(
      /Your card is active, with the PIN you chose at the card station/,
    );
    await shot(page, "05-holder-activated-pin-guidance");
    expect((await ok(as("fi", "GET", `/orders/${card1.orderId}`))).state).to.equal("ACTIVE");
    await expectOcsp({ ...ocsp, certPem: card1.certPem }, "good", "the LoA3 activation");

    // The LoA2 card of the same holder: its activation code travels by SMS (policies/workflows/loa2-card-order.yaml,
    // REQ-15).
    const card2 = await orderToHandOut("loa2-card-order");
    const code = await peers.activationCode(card2.orderId);
    const codeMessage = (await peers.received()).find(
      (m) =>
        m.text.startsWith("Aktiveringskod för ditt nya eID-kort") && m.text.includes(orderReference(card2.orderId)),
    )!; // Swedish: the holder's organisation is Swedish
    expect(
      [codeMessage.channel, codeMessage.to],
      "the activation code went by SMS to the holder's phone",
    ).to.deep.equal(["sms", phone]);
    const h2 = await holderBrowser(card2);
    await h2.page.goto(`${svc.ra!.url}/holder/`);
    await h2.page.getByText("Signed in with your LoA2 card").waitFor();
    const codeField = h2.page.getByLabel("Activation code (sent to you apart from the card)");
    expect(await h2.page.locator("#activation-message").count(), "LoA2: no challenge to sign").to.equal(0);
    await codeField.fill(code === "AAAAAAAAAA" ? "BBBBBBBBBB" : "AAAAAAAAAA");
    await h2.page.getByRole("button", { name: "Activate my card" }).click();
    await h2.page.locator("#message.error").waitFor();
    expect(await h2.page.locator("#message").textContent()).to.include(
      "The activation code is wrong. Check the code in the message you received.",
    ); // the guard activation-code-correct (REQ-15) in words
    await shot(h2.page, "06-holder-wrong-activation-code");
    expect(
      (await ok(as("fi", "GET", `/orders/${card2.orderId}`))).state,
      "a wrong code leaves the order handed out",
    ).to.equal("HANDED_OUT");
    await expectOcsp({ ...ocsp, certPem: card2.certPem }, "certificateHold", "a wrong activation code");
    await codeField.fill(code);
    await h2.page.getByRole("button", { name: "Activate my card" }).click();
    await h2.page.getByRole("heading", { name: "Change your PIN" }).waitFor();
    expect(await h2.page.locator("#message").textContent()).to.match(/Your card is active/);
    await shot(h2.page, "07-holder-activated-by-code");
    expect((await ok(as("fi", "GET", `/orders/${card2.orderId}`))).state).to.equal("ACTIVE");
    await expectOcsp({ ...ocsp, certPem: card2.certPem }, "good", "the LoA2 activation with the code from the SMS");
    expect(h2.errors).to.deep.equal([]);
    await h2.ctx.close();

    // Signed in with the LoA3 card, the holder suspends and resumes the LoA2 card (REQ-17).
    await page.goto(`${svc.ra!.url}/holder/#/cards`);
    const other = page.locator(`section.card[data-serial="${card2.serial}"]`);
    await other.locator(".card-status", { hasText: "Active" }).waitFor();
    const suspend = other.getByRole("form", { name: "Suspend this card for now" });
    await suspend.getByRole("button", { name: "Suspend" }).click();
    // tied to the box (aria-describedby)
    await suspend.locator(".field-error", { hasText: "Tick the box to confirm." }).waitFor();
    expect(await suspend.getByLabel(/Yes: suspend this card for now/).getAttribute("aria-invalid")).to.equal("true");
    await suspend.getByLabel(/Yes: suspend this card for now/).check();
    await suspend.getByRole("button", { name: "Suspend" }).click();
    await page.getByText("The card is suspended.").waitFor();
    await other.locator(".card-status", { hasText: "Suspended" }).waitFor();
    expect((await ok(as("fi", "GET", `/certificates/${card2.serial}`))).status).to.equal("on-hold");
    await expectOcsp({ ...ocsp, certPem: card2.certPem }, "certificateHold", "the holder's suspension");
    await shot(page, "08-holder-suspended");
    const resume = other.getByRole("form", { name: "Lift the suspension" });
    await resume.getByLabel(/Yes: lift the suspension/).check();
    await resume.getByRole("button", { name: "Resume" }).click();
    await page.getByText("The suspension is lifted").waitFor();
    await other.locator(".card-status", { hasText: "Active" }).waitFor();
    expect((await ok(as("fi", "GET", `/certificates/${card2.serial}`))).status).to.equal("good");
    await expectOcsp({ ...ocsp, certPem: card2.certPem }, "good", "the holder's resume");
    await expectOcsp({ ...ocsp, certPem: card1.certPem }, "good", "the other card's suspension and resume");
    expect(errors).to.deep.equal([]);
    await ctx.close();
  });
});
