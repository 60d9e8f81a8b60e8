import { expect } from "chai";
import { X509Certificate, sign } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { loadConfig } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { demoOrderInProduction, staffActor } from "../../src/composition/demo-orders.js";
import { DEMO_OFFICERS } from "../../src/composition/demo-setup.js";
import type { Actor } from "../../src/ra/order.js";
import { demoEnv, requireTool } from "../support/environment.js";
import { produceAttested, trustFixtureMaker } from "../support/attestation-fixture.js";
import { activateWithSoftwareKey } from "../support/activation.js";
import { REPO_ROOT } from "../support/test-ca.js";
import { startDeliveryPeers, type DeliveryPeers } from "../support/delivered.js";

const APPLICANT = "197003033456"; // alive in the demo register
const ARTIFACTS = join(REPO_ROOT, "test-artifacts", "self-service");

/**
 * The applicant page and the holder pages in Debian's headless Chromium (playwright-core): the
 * applicant opens the link from their message, ticks the box, accepts and sees the progress; the
 * holder signs in with the card's client certificate, activates, suspends and resumes a card.
 */
describe("applicant and holder pages in headless Chromium", function () {
  this.timeout(240_000);
  let svc: Service;
  let peers: DeliveryPeers;
  let browser: Browser;
  let staff: Actor;
  let officer: Actor;
  let producer: Actor;
  const stamp = String(Date.now() % 1e8).padStart(8, "0");

  /** Contract 2: `<ra.publicUrl>/applicant/#order=<id>&token=<token>`, the link in the terms mail the SMTP server received (REQ-06). */
  async function applicantLinkFor(orderId: string): Promise<string> {
    return peers.termsLink(orderId);
  }

  before(async function () {
    const d = demoEnv(this);
    trustFixtureMaker(d.caStore); // REQ-14: the software test cards' maker root
    requireTool(this, "chromium");
    mkdirSync(ARTIFACTS, { recursive: true });
    peers = await startDeliveryPeers(); // the service delivers to a real SMTP server and SMS stub of this test
    svc = await startService(loadConfig({ ...d.env, ...peers.env, CARDPKI_PORT: "0", CARDPKI_RA_PORT: "0", CARDPKI_HOST: "127.0.0.1" }));
    staff = await staffActor(svc.ra!.ra, "556000-0000", DEMO_OFFICERS.ada.nationalId); // ra-admin: onboards and binds
    officer = await staffActor(svc.ra!.ra, "556000-0000", DEMO_OFFICERS.bo.nationalId); // ra-officer: orders
    producer = await staffActor(svc.ra!.ra, "556000-0000", DEMO_OFFICERS.ed.nationalId); // ca-operator: produces
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps"] });
  });
  after(async () => {
    await browser?.close();
    await svc?.stop();
    await peers?.stop();
  });
  const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  it("ok/the applicant opens the link, reads the terms, ticks the (unticked) box, accepts and sees the progress; fail/accepting without ticking, the link a second time", async () => {
    const ra = svc.ra!.ra;
    const org = await ra.onboarding.registerOrganisation(staff, { orgNumber: `57${stamp}`, name: "Applicant Kund AB", country: "SE" });
    await ra.onboarding.recordOnboardingEvidence(staff, org.id, { registrationCertificate: "e2e", domain: "applicant.example", domainValidationMethod: "dns-txt" });
    const person = await ra.onboarding.bindPerson(staff, org.id, { nationalId: APPLICANT, name: "Cy Applicant", email: "cy.applicant@applicant.example" });
    const order = await ra.orders.create(officer, { personId: person.id, workflowId: "loa3-card-order", nationalId: APPLICANT });
    const link = await applicantLinkFor(order.id);

    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => void (m.type() === "error" && !/status of 4\d\d/.test(m.text()) && errors.push(m.text())));
    await page.goto(link);
    await page.getByRole("heading", { name: "Your card order" }).waitFor();
    expect(page.url(), "the token leaves the address bar").to.not.include("token=");
    await page.getByRole("heading", { name: /Terms of use for your eID card/ }).waitFor();
    const box = page.getByLabel(/I have read the terms of use \(version 2026-01\) and accept them/);
    expect(await box.isChecked(), "never pre-ticked (REQ-06)").to.equal(false);
    await shot(page, "01-applicant-terms");
    await page.getByRole("button", { name: "Accept the terms" }).click();
    await page.locator("#message.error").waitFor();
    expect(await page.locator("#message").textContent()).to.match(/actively accept the terms.*REQ-06/);
    await box.check();
    await page.getByRole("button", { name: "Accept the terms" }).click();
    await page.getByText("Thank you: you accepted the terms of use (version 2026-01).").waitFor();
    expect(await page.locator("#status").textContent()).to.match(/You accepted the terms. Next, visit your registration office/);
    expect(await page.locator("ol.steps li[aria-current=step]").textContent()).to.match(/^Identification in person/);
    expect(await page.getByText("You accepted the terms of use, version 2026-01.").isVisible()).to.equal(true);
    await shot(page, "02-applicant-progress");
    const cookie = (await ctx.cookies()).find((c) => c.name === "cardpki_applicant")!;
    expect([cookie.httpOnly, cookie.secure, cookie.sameSite, cookie.path]).to.deep.equal([true, true, "Strict", "/api/v1/applicant"]);
    expect((await ra.orderStore.load(order.id))!.state).to.equal("TERMS_ACCEPTED");
    // A reload keeps the session (the fragment is gone, the token used).
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

  it("ok/the holder signs in with the card's certificate, activates it, and suspends and resumes another card of theirs on the holder pages", async () => {
    const ra = svc.ra!.ra;
    const rt = svc.runtime;
    const dir = mkdtempSync(join(tmpdir(), "holder-"));
    const first = await demoOrderInProduction(rt, ra, { staff, orgNumber: `58${stamp}`, holder: { nationalId: APPLICANT, name: "Cy Holder", email: "cy.holder@holder.example" }, termsToken: (id) => peers.termsToken(id) });
    const [o1, o2, o3, approver] = first.officers as [Actor, Actor, Actor, Actor]; // REQ-10: o1, o2 identify; approver approves and releases; o3 hands out
    const doc = { type: "passport", number: "XP112233", expires: new Date(Date.now() + 3650 * 86_400_000) };
    /**
     * Card source: a software card of the test maker with its PIV attestation (REQ-14), recorded as
     * the card station records it; Chromium presents a software key (the virtual card's key cannot
     * be handed to the browser here).
     */
    const produceAndHandOut = async (orderId: string) => {
      const { certSerial, card } = await produceAttested(rt, ra, orderId, producer);
      const privateKey = card.privateKey;
      await ra.orders.act(orderId, "hand-out", o3, { secondIdentification: { document: doc, faceCompared: true } });
      const cert = new X509Certificate((await rt.store.get(certSerial))!.der!);
      const paths = { certPath: join(dir, `${cert.serialNumber}.crt`), keyPath: join(dir, `${cert.serialNumber}.key`) };
      writeFileSync(paths.certPath, cert.toString());
      writeFileSync(paths.keyPath, privateKey.export({ type: "pkcs8", format: "pem" }));
      return { serial: cert.serialNumber.toLowerCase(), privateKey, ...paths };
    };
    const card1 = await produceAndHandOut(first.orderId);
    // A second card of the same holder, activated already.
    const second = await ra.orders.create(o1, { personId: first.holderId, workflowId: "loa3-card-order", nationalId: APPLICANT });
    await ra.orders.act(second.id, "accept-terms", { kind: "applicant", roles: [] }, { applicantToken: await peers.termsToken(second.id), termsVersion: "2026-01", accepted: true });
    await ra.orders.act(second.id, "identify", o1, { document: doc, faceCompared: true });
    await ra.orders.act(second.id, "identify", o2, { document: doc, faceCompared: true });
    await ra.orders.act(second.id, "approve", approver, {});
    await ra.orders.act(second.id, "start-production", approver, {});
    const card2 = await produceAndHandOut(second.id);
    await activateWithSoftwareKey(ra, { orderId: second.id, holderId: first.holderId, serial: card2.serial, loa: 3, station: o3, privateKey: card2.privateKey });

    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, clientCertificates: [{ origin: svc.ra!.url, certPath: card1.certPath, keyPath: card1.keyPath }] });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${svc.ra!.url}/holder/`);
    await page.getByText("Signed in with your LoA3 card").waitFor();
    const session = (await ctx.cookies()).find((c) => c.name === "cardpki_session")!;
    expect([session.httpOnly, session.secure, session.sameSite]).to.deep.equal([true, true, "Strict"]);
    // REQ-16: the card is on hold until activation: signed in with it, the holder sees the activation step only.
    await page.getByRole("button", { name: "Activate my card" }).waitFor();
    expect(await page.locator('nav a[href="#/cards"]').isVisible()).to.equal(false);
    await shot(page, "04-holder-activation-step");
    // The card station records the transport PIN replaced; the card signs the RA's challenge shown on the page
    // (here the test plays the holder's card client with the software key).
    await ra.activation.recordPinReplacement(o3, first.orderId, { cardSerial: "software-card" });
    const message = (await page.locator("#activation-message").textContent())!;
    expect(message).to.match(new RegExp(`^cardpki-activation-v1:${first.orderId}:`));
    await page.getByLabel("The card's signature over this text (base64)").fill(sign("sha256", Buffer.from(message), card1.privateKey).toString("base64"));
    await page.getByRole("button", { name: "Activate my card" }).click();
    await page.getByRole("heading", { name: "Change your PIN" }).waitFor();
    expect(await page.locator("#message").textContent()).to.match(/Your card is active, with the PIN you chose at the card station/);
    await shot(page, "05-holder-activated-pin-guidance");
    expect((await ra.orderStore.load(first.orderId))!.state).to.equal("ACTIVE");

    await page.goto(`${svc.ra!.url}/holder/#/cards`);
    const other = page.locator(`section.card[data-serial="${card2.serial}"]`);
    await other.locator(".card-status", { hasText: "Active" }).waitFor();
    const suspend = other.getByRole("form", { name: "Suspend this card for now" });
    await suspend.getByRole("button", { name: "Suspend" }).click();
    await page.getByText("Tick the box to confirm.").waitFor();
    await suspend.getByLabel(/Yes: suspend this card for now/).check();
    await suspend.getByRole("button", { name: "Suspend" }).click();
    await page.getByText("The card is suspended.").waitFor();
    await other.locator(".card-status", { hasText: "Suspended" }).waitFor();
    expect((await ra.certs.status(card2.serial))!.status).to.equal("on-hold");
    await shot(page, "06-holder-suspended");
    const resume = other.getByRole("form", { name: "Lift the suspension" });
    await resume.getByLabel(/Yes: lift the suspension/).check();
    await resume.getByRole("button", { name: "Resume" }).click();
    await page.getByText("The suspension is lifted").waitFor();
    await other.locator(".card-status", { hasText: "Active" }).waitFor();
    expect((await ra.certs.status(card2.serial))!.status).to.equal("good");
    expect(errors).to.deep.equal([]);
    await ctx.close();
  });
});
