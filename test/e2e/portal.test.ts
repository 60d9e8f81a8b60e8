import { expect } from "chai";
import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { loadConfig } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { demoEnv, requireTool } from "../support/environment.js";
import { freshCard, virtualCard } from "../support/virtual-card.js";
import { REPO_ROOT } from "../support/test-ca.js";
import { trustVirtualCardMaker } from "../support/attestation-fixture.js";
import { startDeliveryPeers, type DeliveryPeers } from "../support/delivered.js";
import { demoOfficerCreds, officerApi, type DemoOfficerName } from "../support/ra-client.js";
import { readCardCertificate } from "../support/card-client.js";
import { expectOcsp } from "../support/ocsp-judged.js";

const HOLDER = "197003033456";
const ARTIFACTS = join(REPO_ROOT, "test-artifacts", "portal");

/**
 * The officers' portal end to end: Debian's Chromium driven by playwright-core over HTTPS with
 * each officer's client certificate; the officers the LoA3 separation matrix needs (REQ-10: two
 * identify, a third approves and releases, a ca-operator produces, a fifth hands out) take a LoA3
 * order from request to hand-out, the card personalised on the virtual PIV card; an identifier is
 * refused at hand-out. Everything else through public surfaces too: ada onboards the customer
 * organisation over the RA API, the applicant accepts on the applicant page opened from the terms
 * mail the SMTP server received, the order is read back over the RA API and `openssl ocsp` judges
 * the card's certificate (on hold after production and hand-out, REQ-16).
 */
describe("portal in headless Chromium over mTLS", function () {
  this.timeout(240_000);
  let svc: Service;
  let peers: DeliveryPeers;
  let browser: Browser;
  let orgId: string;
  let caStore: string;
  let creds: Record<DemoOfficerName, { certPath: string; keyPath: string }>;
  let api: ReturnType<typeof officerApi>;
  let handedOutSerial = "";

  before(async function () {
    const d = demoEnv(this);
    requireTool(this, "chromium");
    virtualCard(this);
    // a card of its own: the ledger knows the default serial from other tests
    await freshCard(0x10000000 + (Date.now() % 0x0fffffff));
    trustVirtualCardMaker(d.caStore); // REQ-14: the virtual card's TEST maker root as an installed attestation root
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
    caStore = d.caStore;
    // The demo's initial staff group (contract: one bootstrap, every LoA3 step by another officer), each with their own
    // client certificate.
    const officers = demoOfficerCreds(config.dataDir);
    creds = officers;
    api = officerApi(new URL(svc.ra!.url), readFileSync(config.ra.tlsCert, "utf8"), officers);
    // ada (ra-admin, service-owner staff) onboards the customer organisation and binds the applicant over the RA API
    // (REQ-01, REQ-21).
    const org = await api.ok(
      api.as("ada", "POST", "/organisations", {
        orgNumber: `59${String(Date.now() % 1e8).padStart(8, "0")}`,
        name: "Portal Kund AB",
        country: "SE",
      }),
      201,
    );
    expect(
      (
        await api.ok(
          api.as("ada", "POST", `/organisations/${org.id}/onboarding`, {
            registrationCertificate: "e2e",
            domain: "portal.example",
            domainValidationMethod: "dns-txt",
          }),
        )
      ).status,
    ).to.equal("active");
    await api.ok(
      api.as("ada", "POST", `/organisations/${org.id}/people`, {
        nationalId: HOLDER,
        name: "Cy Holder",
        email: "cy.holder@portal.example",
        phone: "+46705550003",
      }),
      201,
    );
    orgId = org.id;
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

  async function as(who: keyof typeof creds): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
    const ctx = await browser.newContext({
      ignoreHTTPSErrors: true,
      clientCertificates: [{ origin: svc.ra!.url, certPath: creds[who].certPath, keyPath: creds[who].keyPath }],
    });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${svc.ra!.url}/portal`);
    await page.getByText(/^Signed in as /).waitFor();
    return { ctx, page, errors };
  }
  const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const doc = async (page: Page, type: string) => {
    await page.getByLabel("Document type").selectOption(type);
    await page.getByLabel("Document number").fill("XP778899");
    await page.getByLabel("Valid until").fill("2031-05-01");
    await page.getByLabel("I compared the face with the document photo").check();
  };

  it(`ok/five officers take a LoA3 order from request to hand-out (card personalised on the station); fail/the \
identifier is refused at hand-out with the rule's reason; session cookie and CSRF`, async () => {
    const anna = await as("bo");
    // Session: HttpOnly, Secure, SameSite=Strict; a state change without the CSRF token is refused.
    const cookie = (await anna.ctx.cookies()).find((c) => c.name === "cardpki_session")!;
    expect([cookie.httpOnly, cookie.secure, cookie.sameSite]).to.deep.equal([true, true, "Strict"]);
    const noToken = await anna.page.evaluate(
      async () =>
        (await fetch("/api/v1/orders", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }))
          .status,
    );
    expect(noToken).to.equal(403);

    await anna.page.goto(`${svc.ra!.url}/portal#/new`);
    await anna.page.getByLabel("Applicant's national ID number").fill(HOLDER);
    // the picker, by name: Portal Kund AB
    await anna.page.getByLabel("Organisation", { exact: true }).selectOption(orgId);
    await anna.page.getByLabel("Assurance level and card").selectOption("loa3-card-order");
    await shot(anna.page, "01-new-order");
    await anna.page.getByRole("button", { name: "Order the card" }).click();
    await anna.page.waitForURL(/#\/orders\/[0-9a-f]{32}$/);
    const orderId = /orders\/([0-9a-f]{32})/.exec(anna.page.url())![1]!;
    // The applicant accepts the terms on the applicant page, opened from the link in the mail the SMTP server received
    // (REQ-06).
    const applicant = await browser.newContext({ ignoreHTTPSErrors: true });
    const ap = await applicant.newPage();
    await ap.goto(await peers.termsLink(orderId));
    await ap.getByLabel(/I have read the terms of use \(version 2026-01\) and accept them/).check();
    await ap.getByRole("button", { name: "Accept the terms" }).click();
    await ap.getByText("Thank you: you accepted the terms of use (version 2026-01).").waitFor();
    await applicant.close();

    await anna.page.goto(`${svc.ra!.url}/portal#/orders/${orderId}/act/identify`);
    await doc(anna.page, "passport");
    await shot(anna.page, "02-identify");
    await anna.page.getByRole("button", { name: "Record identification" }).click();
    await anna.page.getByText("The order is now: Identified.").waitFor();

    const bert = await as("cy");
    await bert.page.goto(`${svc.ra!.url}/portal#/queue`);
    await bert.page.locator(`a[href="#/orders/${orderId}/act/identify"]`).waitFor();
    await shot(bert.page, "03-queue");
    await bert.page.goto(`${svc.ra!.url}/portal#/orders/${orderId}/act/identify`);
    await doc(bert.page, "national-id-card");
    await bert.page.getByRole("button", { name: "Record identification" }).click();
    await bert.page.getByText("The order is now: Identified.").waitFor();
    const di = await as("di");
    for (const [action, label, state] of [
      ["approve", "Approve for production", "Approved"],
      ["start-production", "Release to production", "In production"],
    ] as const) {
      await di.page.goto(`${svc.ra!.url}/portal#/orders/${orderId}/act/${action}`);
      await di.page.getByRole("button", { name: label }).click();
      await di.page.getByText(`The order is now: ${state}.`).waitFor();
    }

    // Production on the card station (the virtual PIV card behind real pcscd), by the ca-operator; the key attested by
    // the card (REQ-14).
    const ed = await as("ed");
    await ed.page.goto(`${svc.ra!.url}/portal#/orders/${orderId}/act/produce`);
    await ed.page.getByText(/card inserted/).waitFor();
    await ed.page.getByRole("button", { name: "Personalise the card in the reader" }).click();
    await ed.page.locator("#message.error, #message.info:has-text('personalised')").waitFor({ timeout: 60_000 });
    expect(await ed.page.locator("#message").textContent()).to.match(
      /personalised: certificate in slot 9A; the key is attested by the card/,
    );
    await shot(ed.page, "04-produced");
    // REQ-16: the certificate on the card, as read back through PC/SC, is on hold from production on.
    const cardPem = await readCardCertificate("9a");
    await expectOcsp({ url: svc.url, caStore, certPem: cardPem }, "certificateHold", "production");

    // An identifier gets no hand-out step in the queue, and is refused with the rule's reason if they try.
    await anna.page.goto(`${svc.ra!.url}/portal#/queue`);
    await anna.page.getByRole("heading", { name: "My work queue" }).waitFor();
    expect(await anna.page.locator(`a[href="#/orders/${orderId}/act/hand-out"]`).count()).to.equal(0);
    await anna.page.goto(`${svc.ra!.url}/portal#/orders/${orderId}/act/hand-out`);
    await anna.page.getByText("This step is not offered to you").waitFor();
    await doc(anna.page, "passport");
    await anna.page.getByRole("button", { name: "Hand out" }).click();
    const refusal = anna.page.locator("#message.error");
    await refusal.waitFor();
    expect(await refusal.textContent()).to.match(
      /You identified this applicant, so another officer must hand out the card\..*not-an-identifier.*REQ-04/,
    ); // the server's words (locales/en/refusals.json), the rule and REQ
    await shot(anna.page, "05-hand-out-refused");

    const cleo = await as("fi");
    await cleo.page.goto(`${svc.ra!.url}/portal#/orders/${orderId}/act/hand-out`);
    await doc(cleo.page, "passport");
    await cleo.page.getByRole("button", { name: "Hand out" }).click();
    await cleo.page.getByText("The order is now: Handed out.").waitFor();
    await cleo.page.locator("#order-state").getByText("Handed out").waitFor();
    await shot(cleo.page, "06-handed-out");
    const order = await api.ok(api.as("fi", "GET", `/orders/${orderId}`));
    handedOutSerial = order.certificateSerial;
    const hex = (x: string) => x.toLowerCase().replace(/^0+/, "");
    expect(hex(new X509Certificate(cardPem).serialNumber), "the card holds the order's certificate").to.equal(
      hex(order.certificateSerial),
    );
    await expectOcsp({ url: svc.url, caStore, certPem: cardPem }, "certificateHold", "hand-out");
    await cleo.page.goto(`${svc.ra!.url}/portal#/certificates`);
    await cleo.page.getByLabel("Certificate serial number").fill(order.certificateSerial);
    await cleo.page.getByRole("button", { name: "Find" }).click();
    // REQ-16: handed out but not activated: the certificate is still on hold.
    await cleo.page.locator("#certificate td", { hasText: "suspended" }).waitFor();
    await shot(cleo.page, "07-certificate");
    expect(order.state).to.equal("HANDED_OUT");
    expect(new Set(order.identifications.map((i: { by: string }) => i.by)).size).to.equal(2);
    expect([...anna.errors, ...bert.errors, ...di.errors, ...ed.errors, ...cleo.errors]).to.deep.equal([]);
    // Every portal call was logged with the officer's identity (REQ-27).
    const logged = await svc.parts
      .db("audit_events")
      .where("action", "like", "api.%")
      .andWhere("object_id", "like", `%${orderId}%`)
      .select("actor");
    expect(new Set(logged.map((l: { actor: string }) => l.actor)).size).to.be.at.least(3);
    for (const s of [anna, bert, di, ed, cleo]) await s.ctx.close();
  });

  it(`ok/administration binds a person (ra-admin); the auditor reads the card's evidence and a conformance report; a \
plain officer has no admin or audit screen`, async function () {
    if (!handedOutSerial) return this.skip();
    const cleo = await as("ada");
    await cleo.page.goto(`${svc.ra!.url}/portal#/admin`);
    await cleo.page.getByLabel("Organisation", { exact: true }).selectOption(orgId);
    await cleo.page.getByLabel("National ID number", { exact: true }).fill("198001015099");
    await cleo.page.getByLabel("Name", { exact: true }).fill("Nils Newcomer");
    await cleo.page.getByRole("button", { name: "Bind" }).click();
    await cleo.page.getByText("Nils Newcomer bound").waitFor();
    await shot(cleo.page, "08-admin");
    const dana = await as("gu");
    expect(await dana.page.locator('nav a[href="#/audit"]').isVisible()).to.equal(true);
    expect(await dana.page.locator('nav a[href="#/admin"]').isVisible()).to.equal(false);
    await dana.page.goto(`${svc.ra!.url}/portal#/audit`);
    await dana.page.getByRole("heading", { name: "Audit" }).waitFor(); // the screen is drawn before the form is filled
    // A screen still finishing its first load may redraw the form: fill and ask again until the evidence shows.
    const row = dana.page.locator("#evidence td", { hasText: "three distinct officers" });
    for (let i = 0; i < 3 && !(await row.isVisible()); i++) {
      await dana.page.getByLabel("Certificate serial number").fill(handedOutSerial);
      await dana.page.getByRole("button", { name: "Show evidence" }).click();
      await row.waitFor({ timeout: 15_000 }).catch(() => undefined);
    }
    await row.waitFor();
    // REQ-14: the card's attestation in the evidence
    await dana.page.locator("#evidence td", { hasText: "key generated on the card (attested)" }).waitFor();
    expect(await dana.page.locator("#evidence .fail").count()).to.equal(0);
    await shot(dana.page, "09-audit-evidence");
    // A period within the policy's cap (audit report.maxPeriodDays).
    await dana.page.getByLabel("From").fill(new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10));
    await dana.page.getByLabel("To").fill(new Date(Date.now() + 86_400_000).toISOString().slice(0, 10));
    await dana.page.getByRole("button", { name: "Build report" }).click();
    await dana.page.getByText(/audit trail intact/).waitFor();
    const bert = await as("cy");
    expect(await bert.page.locator('nav a[href="#/audit"]').isVisible()).to.equal(false);
    expect(
      await bert.page.evaluate(async (s) => (await fetch(`/api/v1/audit/evidence/${s}`)).status, handedOutSerial),
    ).to.equal(403);
    expect([...cleo.errors, ...dana.errors, ...bert.errors]).to.deep.equal([]);
    for (const x of [cleo, dana, bert]) await x.ctx.close();
  });
});
