import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { freePort } from "../support/free-port.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page, Route } from "playwright-core";
import { requireTool } from "../support/environment.js";
import { freshCard, virtualCard } from "../support/virtual-card.js";
import { OPENSC_PKCS11, PIV_AUTH_KEY_URI, PKCS11_ENGINE } from "../support/card-client.js";
import { REPO_ROOT } from "../support/test-ca.js";

/**
 * README "First card in ten minutes", followed as written. The section is split at its
 * `<!-- walk:NAME -->` markers; every `sh` block of a step is run by bash in the demo's folder (the
 * only change: the ports 8080/8443 become free ones), a line `NAME='<…>'` is what the reader fills
 * in (the test supplies what it saw: the order id from the portal's address bar, the PIN from the
 * SMS stub's file, the text the holder page shows), and each `# → text` must be in the output.
 * The browser steps use the labels the README names (each is checked to be in the step's text):
 * officers in Chromium with their PKCS#12 files, the applicant from the link in the mail sink's
 * file, the holder on the holder page with the TLS client key on the virtual card (Chromium's
 * requests to the RA go through curl with OpenSSL's pkcs11 engine and OpenSC, as a browser with
 * the card's PKCS#11 module would make them). Nothing is read from the database or the process:
 * the token, the PIN and the challenge come only from what the demo's peers received and showed.
 */

const README = join(REPO_ROOT, "README.md");
const STEPS = [
  "start",
  "browser",
  "bind",
  "order",
  "terms-mail",
  "accept",
  "identify",
  "approve",
  "produce",
  "sms",
  "hand-out",
  "change-pin",
  "activate",
  "ocsp",
] as const;
type StepName = (typeof STEPS)[number];
interface Step {
  readonly name: string;
  readonly text: string;
  readonly blocks: string[];
}

/** The walkthrough's steps from the README: the text between markers and its `sh` blocks. */
function walkthrough(): Map<string, Step> {
  const md = readFileSync(README, "utf8");
  const start = md.indexOf("\n## First card in ten minutes\n");
  if (start < 0) throw new Error("README.md has no section 'First card in ten minutes'");
  const end = md.indexOf("\n## ", start + 5);
  const section = md.slice(start, end < 0 ? undefined : end);
  const steps = new Map<string, Step>();
  const parts = section.split(/<!-- walk:([a-z-]+) -->/);
  for (let i = 1; i < parts.length; i += 2) {
    const text = parts[i + 1]!;
    const blocks = [...text.matchAll(/^( *)```sh\n([\s\S]*?)^\1```$/gm)].map((m) =>
      m[2]!
        .split("\n")
        .map((l) => l.slice(m[1]!.length))
        .join("\n"),
    );
    steps.set(parts[i]!, { name: parts[i]!, text, blocks });
  }
  return steps;
}

function exec(
  cmd: string,
  args: string[],
  o: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "",
      stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 120_000);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", (e) => (clearTimeout(timer), reject(e)));
    child.on("close", (code) => (clearTimeout(timer), resolve({ code: code ?? -1, stdout, stderr })));
  });
}

describe("README: first card in ten minutes, followed step by step", function () {
  this.timeout(900_000);
  const steps = walkthrough();
  const ran = new Set<string>();
  let dir = "";
  let env: NodeJS.ProcessEnv = {};
  let port = 0,
    raPort = 0;
  let ra = "";
  let server: ChildProcess | undefined;
  let serverLog = "";
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const vars: Record<string, string> = {};
  let ok = false;

  const step = (name: StepName): Step => {
    const s = steps.get(name);
    if (!s) throw new Error(`README walkthrough: no step <!-- walk:${name} -->`);
    return s;
  };
  /** The step's text names every label and value the test uses (so the README cannot drift from what works). */
  const says = (name: StepName, ...words: string[]) => {
    for (const w of words) expect(step(name).text, `README step '${name}' mentions ${JSON.stringify(w)}`).to.include(w);
  };
  const ports = (s: string) =>
    s.replace(/localhost:8443/g, `localhost:${raPort}`).replace(/localhost:8080/g, `localhost:${port}`);

  /** A README block as bash runs it: placeholders supplied by the test, `# →` lines expected in the output. */
  function prepare(name: StepName, index = 0): { script: string; expected: string[] } {
    const block = step(name).blocks[index];
    if (block === undefined) throw new Error(`README step '${name}' has no sh block ${index + 1}`);
    ran.add(`${name}#${index}`);
    const expected: string[] = [];
    const lines: string[] = [];
    for (const line of block.split("\n")) {
      const exp = /^\s*# → (.+)$/.exec(line);
      if (exp) {
        expected.push(ports(exp[1]!.trim().replace(/^`|`$/g, "")));
        continue;
      }
      const placeholder = /^([A-Z_]+)='<[^']*>'\s*$/.exec(line);
      if (placeholder) {
        if (vars[placeholder[1]!] === undefined)
          throw new Error(`README step '${name}': the test has no value for ${placeholder[1]}`);
        continue;
      }
      lines.push(line);
    }
    return { script: ports(lines.join("\n")), expected };
  }

  /** Runs a README block; retried (a human waits a moment too) until it exits 0 with every expected line. */
  async function runBlock(name: StepName, o: { index?: number; tries?: number } = {}): Promise<string> {
    const { script, expected } = prepare(name, o.index);
    let last = { code: -1, stdout: "", stderr: "" };
    for (let i = 0; i < (o.tries ?? 1); i++) {
      if (i) await new Promise((r) => setTimeout(r, 1000));
      last = await exec("bash", ["-euo", "pipefail", "-c", script], { cwd: dir, env: { ...env, ...vars } });
      const out = last.stdout + last.stderr;
      if (last.code === 0 && expected.every((e) => out.includes(e))) return last.stdout;
    }
    const out = last.stdout + last.stderr;
    expect(last.code, `README step '${name}': ${script}\n${out}`).to.equal(0);
    for (const e of expected) expect(out, `README step '${name}' expects "${e}"`).to.include(e);
    return last.stdout;
  }

  before(async function () {
    for (const t of ["chromium", "curl", "openssl", "pkcs11-tool", "pkcs15-tool", "softhsm2-util"])
      requireTool(this, t);
    virtualCard(this);
    // a blank card: earlier tests may have personalised the one in the reader
    await freshCard(0x70000000 + (Date.now() % 0x0fffffff));
    expect([...steps.keys()], "the README walkthrough's steps, in order").to.deep.equal([...STEPS, "end"]);
    // A checkout-like folder for the demo: the README's relative paths (data/, ca-store/, dist/, scripts/) resolve in
    // it.
    dir = mkdtempSync(join(tmpdir(), "first-card-"));
    for (const d of ["dist", "scripts"]) symlinkSync(join(REPO_ROOT, d), join(dir, d));
    [port, raPort] = [await freePort(), await freePort()];
    ra = `https://localhost:${raPort}`;
    env = Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !k.startsWith("CARDPKI_") && !["SOFTHSM2_CONF", "DATABASE_URL", "OPENSSL_CONF"].includes(k),
      ),
    );
    Object.assign(env, {
      CARDPKI_DATA_DIR: join(dir, "data"),
      CARDPKI_CA_STORE: join(dir, "ca-store"),
      CARDPKI_PORT: String(port),
      CARDPKI_RA_PORT: String(raPort),
      CARDPKI_HOST: "127.0.0.1",
      CARDPKI_DRAIN_SECONDS: "0",
      // The card stack that runs (started by ./scripts/test or above).
      CARDPKI_VCARD_DIR: join(REPO_ROOT, "data", "virtual-card"),
    });
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
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    const t0 = Date.now();
    // ./scripts/run and the service it started are one process group: TERM (the service drains and
    // stops), wait until the group is empty, KILL what is left after 20 s.
    const group = server?.pid;
    const alive = () => {
      try {
        process.kill(-group!, 0);
        return true;
      } catch {
        return false;
      }
    };
    if (group && alive()) {
      process.kill(-group, "SIGTERM");
      for (let i = 0; i < 200 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
      if (alive()) process.kill(-group, "SIGKILL");
    }
    if (ok && dir) rmSync(dir, { recursive: true, force: true });
    else if (dir)
      console.error(
        `first-card walkthrough: demo folder kept in ${dir}; ./scripts/run stopped ` +
          `in ${Date.now() - t0} ms; its log:\n${serverLog.slice(-6000)}`,
      );
  });

  /** An officer in Chromium with their PKCS#12 file (as imported into a browser), signed in to the portal. */
  async function officer(who: string, passphrase: string): Promise<Page> {
    const ctx = await browser!.newContext({
      ignoreHTTPSErrors: true,
      clientCertificates: [{ origin: ra, pfxPath: join(dir, "data", "demo-officers", `${who}.p12`), passphrase }],
    });
    contexts.push(ctx);
    const page = await ctx.newPage();
    await page.goto(`${ra}/portal/`);
    await page.getByText(/^Signed in as /).waitFor();
    return page;
  }
  const openOrder = async (page: Page, orderId: string, action: string) => {
    await page.getByRole("link", { name: "Work queue" }).click();
    await page.getByRole("heading", { name: "My work queue" }).waitFor();
    // the order, by the applicant's name
    await page.locator(`main a[href="#/orders/${orderId}"]`, { hasText: "Cy Holder" }).click();
    await page.getByRole("heading", { name: "Card order for Cy Holder" }).waitFor();
    await page.getByRole("link", { name: action }).click();
  };
  const identity = async (page: Page, type: string, number: string) => {
    await page.getByLabel("Document type").selectOption(type);
    await page.getByLabel("Document number").fill(number);
    await page.getByLabel("Valid until").fill("2033-06-30");
    await page.getByLabel("I compared the face with the document photo").check();
  };
  /** The page's answer: the success text, or the refusal the page shows (#message.error), which fails the step. */
  const outcome = async (page: Page, success: string | RegExp, what: string) => {
    const refused = page.locator("#message.error");
    await refused.or(page.getByText(success)).first().waitFor();
    if (await refused.isVisible()) throw new Error(`${what}: the page says: ${await refused.textContent()}`);
  };
  const done = (page: Page, state: string) => outcome(page, `The order is now: ${state}.`, `the step to ${state}`);

  /**
   * The holder's browser with the card: each request to the RA is made by curl with the TLS client
   * key on the card (PIV 9A through OpenSC, PIN as typed by the holder) and the card's certificate;
   * cookies are kept here as the browser keeps them.
   */
  function cardBrowser(certFile: string, pin: string) {
    const jar = new Map<string, string>();
    return async (route: Route) => {
      const req = route.request();
      const tmp = mkdtempSync(join(tmpdir(), "holder-browser-"));
      try {
        const conf = join(tmp, "openssl.cnf");
        writeFileSync(
          conf,
          [
            "openssl_conf = openssl_init",
            "[openssl_init]",
            "engines = engine_section",
            "[engine_section]",
            "pkcs11 = pkcs11_section",
            "[pkcs11_section]",
            "engine_id = pkcs11",
            `dynamic_path = ${PKCS11_ENGINE}`,
            `MODULE_PATH = ${OPENSC_PKCS11}`,
            `PIN = ${pin}`,
            "init = 0",
            "",
          ].join("\n"),
          { mode: 0o600 },
        );
        const args = [
          "-sS",
          "--noproxy",
          "*",
          "--max-time",
          "60",
          "--engine",
          "pkcs11",
          "--key-type",
          "ENG",
          "--key",
          PIV_AUTH_KEY_URI,
          "--cert",
          certFile,
          "--cert-type",
          "PEM",
          "--cacert",
          join(dir, "data", "tls", "ra-server.crt"),
          "-X",
          req.method(),
          "-D",
          join(tmp, "headers"),
          "-o",
          join(tmp, "body"),
          "-w",
          "%{http_code}",
        ];
        for (const [k, v] of Object.entries(await req.allHeaders()))
          if (!k.startsWith(":") && !["host", "content-length", "cookie", "connection", "accept-encoding"].includes(k))
            args.push("-H", `${k}: ${v}`);
        if (jar.size) args.push("-H", `cookie: ${[...jar].map(([k, v]) => `${k}=${v}`).join("; ")}`);
        const body = req.postDataBuffer();
        if (body) {
          writeFileSync(join(tmp, "request"), body);
          args.push("--data-binary", `@${join(tmp, "request")}`);
        }
        args.push(req.url());
        const r = await exec("curl", args, { cwd: tmp, env: { ...env, OPENSSL_CONF: conf }, timeoutMs: 70_000 });
        if (r.code !== 0)
          throw new Error(`the holder's browser (curl with the card's key): ${req.method()} ${req.url()}: ${r.stderr}`);
        const block =
          readFileSync(join(tmp, "headers"), "latin1")
            .split(/\r?\n\r?\n/)
            .filter((b) => b.trim())
            .at(-1) ?? "";
        const headers: Record<string, string> = {};
        for (const line of block.split(/\r?\n/).slice(1)) {
          const i = line.indexOf(":");
          if (i <= 0) continue;
          const k = line.slice(0, i).trim().toLowerCase(),
            v = line.slice(i + 1).trim();
          if (k === "set-cookie") {
            const [pair] = v.split(";");
            const eq = pair!.indexOf("=");
            const name = pair!.slice(0, eq).trim(),
              value = pair!.slice(eq + 1).trim();
            if (/max-age=0|expires=thu, 01 jan 1970/i.test(v) || !value) jar.delete(name);
            else jar.set(name, value);
          } else if (!["content-length", "transfer-encoding", "connection"].includes(k)) headers[k] = v;
        }
        await route.fulfill({ status: Number(r.stdout.trim()), headers, body: readFileSync(join(tmp, "body")) });
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    };
  }

  it(`ok/from CARDPKI_VIRTUAL_CARD=1 ./scripts/run to an ACTIVE LoA3 card: officers in the portal by their PKCS#12, \
the terms link from the mail sink, the transport PIN from the SMS stub, the card station on the virtual card, \
activation on the holder page with the card; OCSP by openssl on hold, then good; fail/the station's PIN record before \
the hand-out is refused and leaves the PIN as it was`, async () => {
    // 1. Start (the build is the test run's own: CARDPKI_SKIP_BUILD keeps ./scripts/run from rebuilding dist/ under the
    // running tests).
    {
      const { script } = prepare("start");
      expect(script.trim(), "the README starts the demo with the virtual card").to.equal(
        "CARDPKI_VIRTUAL_CARD=1 ./scripts/run",
      );
      says("start", "`serving`");
      server = spawn("bash", ["-euo", "pipefail", "-c", script], {
        cwd: dir,
        env: { ...env, CARDPKI_SKIP_BUILD: "1" },
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
      server.stdout!.on("data", (d) => (serverLog += d));
      server.stderr!.on("data", (d) => (serverLog += d));
      server.once(
        "exit",
        (code, signal) =>
          (serverLog +=
            `\n[test] ./scripts/run exited at ${new Date().toISOString()}: code ${code}, signal ` + `${signal}\n`),
      );
      const end = Date.now() + 240_000;
      while (!/"msg":"serving"|serve: serving/.test(serverLog)) {
        if (server.exitCode !== null)
          throw new Error(`./scripts/run exited ${server.exitCode}:\n${serverLog.slice(-6000)}`);
        if (Date.now() > end)
          throw new Error(`./scripts/run did not say "serving" within 4 minutes:\n${serverLog.slice(-6000)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(serverLog, "the virtual card stack that runs is used (and left running)").to.include(
        "using the virtual card stack that is already running",
      );
      expect(
        existsSync(join(dir, "ca-store", "attestation-roots", "piv-card-makers", "virtual-card-test-maker.pem")),
        "the demo trusts the virtual card's TEST maker root",
      ).to.equal(true);
    }

    // 2. The officers' PKCS#12 files and their password.
    says("browser", "data/demo-officers/<name>.p12", "https://localhost:8443/portal/");
    const passphrase = (await runBlock("browser")).trim();
    expect(passphrase).to.match(/^\S{8,}$/);

    // 3. ada binds the applicant.
    const applicant = {
      nationalId: "197003033456",
      name: "Cy Holder",
      email: "cy.holder@example.org",
      phone: "+46701234567",
    };
    says(
      "bind",
      "**ada**",
      "**Administration**",
      "**Bind**",
      applicant.nationalId,
      applicant.name,
      applicant.email,
      applicant.phone,
    );
    const ada = await officer("ada", passphrase);
    await ada.getByRole("link", { name: "Administration" }).click();
    await ada.getByLabel("National ID number", { exact: true }).fill(applicant.nationalId);
    await ada.getByLabel("Name", { exact: true }).fill(applicant.name);
    await ada.getByLabel("E-mail (terms link)").fill(applicant.email);
    await ada.getByLabel("Phone, E.164 (SMS)").fill(applicant.phone);
    await ada.getByRole("button", { name: "Bind" }).click();
    await outcome(ada, `${applicant.name} bound`, "binding the applicant");

    // 4. bo orders the card; the order id from the address bar.
    says(
      "order",
      "**bo**",
      "**New order**",
      "**Order the card**",
      applicant.nationalId,
      "**LoA3 card: two identifications in person, handed out in person**",
      "#/orders/<order id>",
    );
    const bo = await officer("bo", passphrase);
    await bo.getByRole("link", { name: "New order" }).click();
    await bo.getByLabel("Applicant's national ID number").fill(applicant.nationalId);
    await bo
      .getByLabel("Assurance level and card")
      .selectOption({ label: "LoA3 card: two identifications in person, handed out in person" });
    await bo.getByRole("button", { name: "Order the card" }).click();
    await bo.waitForURL(/#\/orders\/[0-9a-f]{32}$/);
    vars.ORDER = /#\/orders\/([0-9a-f]{32})$/.exec(bo.url())![1]!;
    await runBlock("order");

    // 5. The terms mail, as the demo's mail sink wrote it (the delivery worker sends within seconds).
    const mail = await runBlock("terms-mail", { tries: 30 });
    const link = /https:\/\/localhost:\d+\/applicant\/#order=([0-9a-f]{32})&token=[A-Z0-9]+/.exec(mail);
    expect(link, `the applicant's link in the mail:\n${mail}`).to.not.equal(null);
    expect(link![1], "the newest mail is this order's").to.equal(vars.ORDER);

    // 6. The applicant accepts on the applicant page (no certificate).
    const terms = "I have read the terms of use (version 2026-01) and accept them";
    says("accept", `**${terms}**`, "**Accept the terms**");
    const actx = await browser!.newContext({ ignoreHTTPSErrors: true });
    contexts.push(actx);
    const ap = await actx.newPage();
    await ap.goto(link![0]);
    const box = ap.getByLabel(terms);
    expect(await box.isChecked(), "never pre-ticked (REQ-06)").to.equal(false);
    await box.check();
    await ap.getByRole("button", { name: "Accept the terms" }).click();
    await outcome(ap, "Thank you: you accepted the terms of use (version 2026-01).", "accepting the terms");

    // 7. bo and cy identify the applicant in person.
    says(
      "identify",
      "**bo**",
      "**cy**",
      "**Work queue**",
      "**Identify the applicant**",
      "Document type",
      "Document number",
      "Valid until",
      "**I compared the face with the document photo**",
      "**Record identification**",
    );
    await openOrder(bo, vars.ORDER, "Identify the applicant");
    await identity(bo, "passport", "XP4411223");
    await bo.getByRole("button", { name: "Record identification" }).click();
    await done(bo, "Identified");
    const cy = await officer("cy", passphrase);
    await openOrder(cy, vars.ORDER, "Identify the applicant");
    await identity(cy, "national-id-card", "SE7788990");
    await cy.getByRole("button", { name: "Record identification" }).click();
    await done(cy, "Identified");

    // 8. di approves and releases to production.
    says("approve", "**di**", "**Approve for production**", "**Release to production**");
    const di = await officer("di", passphrase);
    await openOrder(di, vars.ORDER, "Approve for production");
    await di.getByRole("button", { name: "Approve for production" }).click();
    await done(di, "Approved");
    await di.getByRole("link", { name: "Release to production" }).click();
    await di.getByRole("button", { name: "Release to production" }).click();
    await done(di, "In production");

    // 9. ed personalises the virtual card at the card station (CLI through the RA API, PC/SC).
    says("produce", "**ed**");
    await runBlock("produce");

    // 10. The transport PIN, as the SMS stub received it.
    const sms = await runBlock("sms", { tries: 30 });
    const pin = /(?:Transport PIN for your card|Transport-PIN för ditt kort) \S+: ([0-9]{6,8})\./.exec(sms);
    expect(pin, `the transport PIN in the SMS:\n${sms}`).to.not.equal(null);
    vars.TRANSPORT_PIN = pin![1]!;

    // Step 12's command before the hand-out: refused by the RA before the card is touched (the PIN stays the transport
    // PIN, which step 12 then uses).
    {
      let mine: string;
      do mine = String(randomInt(0, 1_000_000)).padStart(6, "0");
      while (mine === vars.TRANSPORT_PIN);
      vars.NEW_PIN = mine;
      const early = await exec("bash", ["-euo", "pipefail", "-c", prepare("change-pin").script], {
        cwd: dir,
        env: { ...env, ...vars },
      });
      expect(early.code, early.stdout + early.stderr).to.not.equal(0);
      expect(early.stderr).to.match(/is PRODUCED; the transport PIN is replaced on a handed-out card \(REQ-16\)/);
    }

    // 11. fi hands out; OCSP: still on hold.
    says("hand-out", "**fi**", "**Hand out the card**", "**Hand out**");
    const fi = await officer("fi", passphrase);
    await openOrder(fi, vars.ORDER, "Hand out the card");
    await identity(fi, "passport", "XP4411223");
    await fi.getByRole("button", { name: "Hand out" }).click();
    await done(fi, "Handed out");
    await runBlock("hand-out", { tries: 5 });

    // 12. The holder replaces the transport PIN at fi's station, which records it with the RA.
    await runBlock("change-pin");

    // 13. The holder signs in on /holder/ with the card, signs the page's text with the card, activates.
    says(
      "activate",
      "https://localhost:8443/holder/",
      OPENSC_PKCS11,
      "**The card's signature over this text (base64)**",
      "**Activate my card**",
      "**Your card is active**",
    );
    const hctx = await browser!.newContext();
    contexts.push(hctx);
    await hctx.route((u) => u.origin === ra, cardBrowser(join(dir, "card.pem"), vars.NEW_PIN));
    const hp = await hctx.newPage();
    const errors: string[] = [];
    hp.on("pageerror", (e) => errors.push(String(e)));
    await hp.goto(`${ra}/holder/`);
    await hp.getByText("Signed in with your LoA3 card").waitFor();
    vars.CHALLENGE = (await hp.locator("#activation-message").textContent({ timeout: 30_000 }))!;
    expect(vars.CHALLENGE).to.match(new RegExp(`^cardpki-activation-v1:${vars.ORDER}:`));
    const signature = (await runBlock("activate")).trim().split("\n").at(-1)!;
    expect(signature).to.match(/^[A-Za-z0-9+/]+=*$/);
    await hp.getByLabel("The card's signature over this text (base64)").fill(signature);
    await hp.getByRole("button", { name: "Activate my card" }).click();
    await outcome(hp, /Your card is active/, "activation on the holder page");
    expect(errors).to.deep.equal([]);

    // 14. OCSP: good.
    await runBlock("ocsp", { tries: 10 });

    // Every block of the section was run.
    const all = [...steps.values()].flatMap((s) => s.blocks.map((_b, i) => `${s.name}#${i}`));
    expect(
      all.filter((b) => !ran.has(b)),
      "README blocks the test did not run",
    ).to.deep.equal([]);
    ok = true;
  });
});
