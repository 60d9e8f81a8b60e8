// HTTPS requests whose TLS client key is ON the (virtual) card: PIV slot 9A through OpenSC's
// PKCS#11 module. Node's bundled OpenSSL cannot safely load the system's pkcs11 engine, so the
// request is made by Debian's curl (system OpenSSL 3) with the libp11 engine
// (libengine-pkcs11-openssl, installed by scripts/lib/ensure.sh). The PIN goes into a private
// OpenSSL config file (0600, removed after the call), never onto a command line.
//
// Also: personaliseForOrder(), which has the RA's card station personalise the card in the reader
// for an order through the RA API (as a ca-operator) and returns the card's certificate as read
// back from the card, so a test can take a real card from production to hand-out and activation.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VIRTUAL_READER } from "./virtual-card.js";
import { run } from "./environment.js";
import { raRequest } from "./ra-client.js";

export const OPENSC_PKCS11 = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
export const PKCS11_ENGINE = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so";
/** OpenSC's PIV card: the PIV authentication key (slot 9A) has CKA_ID 01. */
export const PIV_AUTH_KEY_URI = "pkcs11:id=%01;type=private";

export interface CardRequest {
  readonly method: string;
  readonly url: string;
  /** Sent as JSON (a string is sent as it is). */
  readonly body?: unknown;
  /** The server's certificate (or its CA) to trust. */
  readonly caFile: string;
  /** The certificate on the card (PEM) that goes with the card's key. */
  readonly certPem: string;
  readonly pin: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Another key on the card (PKCS#11 URI); default the PIV authentication key. */
  readonly keyUri?: string;
  readonly timeoutMs?: number;
}

export interface CardReply {
  readonly status: number;
  readonly body: any;
  readonly headers: Record<string, string>;
}

function spawnCollect(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "",
      stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", (e) => (clearTimeout(timer), reject(e)));
    child.on("close", (code) => (clearTimeout(timer), resolve({ code: code ?? -1, stdout, stderr })));
  });
}

/** One HTTPS request with the TLS client key on the card in the reader (curl + the pkcs11 engine + OpenSC). */
export async function cardRequest(r: CardRequest): Promise<CardReply> {
  if (!/^[0-9]{4,16}$/.test(r.pin)) throw new Error("cardRequest: the PIN is 4 to 16 digits");
  const dir = mkdtempSync(join(tmpdir(), "card-client-"));
  try {
    const conf = join(dir, "openssl.cnf");
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
        `PIN = ${r.pin}`,
        "init = 0",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const cert = join(dir, "cert.pem"),
      headers = join(dir, "headers"),
      out = join(dir, "body");
    writeFileSync(cert, r.certPem);
    const args = [
      "-sS",
      "--noproxy",
      "*",
      "--max-time",
      String(Math.ceil((r.timeoutMs ?? 60_000) / 1000)),
      "--engine",
      "pkcs11",
      "--key-type",
      "ENG",
      "--key",
      r.keyUri ?? PIV_AUTH_KEY_URI,
      "--cert",
      cert,
      "--cert-type",
      "PEM",
      "--cacert",
      r.caFile,
      "-X",
      r.method.toUpperCase(),
      "-D",
      headers,
      "-o",
      out,
      "-w",
      "%{http_code}",
    ];
    for (const [k, v] of Object.entries(r.headers ?? {})) args.push("-H", `${k}: ${v}`);
    if (r.body !== undefined) {
      const file = join(dir, "request");
      writeFileSync(file, typeof r.body === "string" ? r.body : JSON.stringify(r.body));
      if (!Object.keys(r.headers ?? {}).some((k) => k.toLowerCase() === "content-type"))
        args.push("-H", "content-type: application/json");
      args.push("--data-binary", `@${file}`);
    }
    args.push(r.url);
    const env: NodeJS.ProcessEnv = { ...process.env, OPENSSL_CONF: conf };
    delete env.SSLKEYLOGFILE;
    const res = await spawnCollect("curl", args, env, (r.timeoutMs ?? 60_000) + 5_000);
    if (res.code !== 0)
      throw new Error(`cardRequest ${r.method} ${r.url}: curl exit ${res.code}: ${res.stderr.trim()}`);
    // The last header block (after any 100 Continue).
    const blocks = readFileSync(headers, "latin1")
      .split(/\r?\n\r?\n/)
      .filter((b) => b.trim());
    const h: Record<string, string> = {};
    for (const line of (blocks.at(-1) ?? "").split(/\r?\n/).slice(1)) {
      const i = line.indexOf(":");
      if (i > 0) h[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const text = readFileSync(out, "utf8");
    const json = /json/.test(h["content-type"] ?? "");
    return { status: Number(res.stdout.trim()), body: json && text ? JSON.parse(text) : text, headers: h };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The certificate in a slot of the card in the reader, as yubico-piv-tool reads it (PEM). */
export async function readCardCertificate(slot = "9a", reader = VIRTUAL_READER): Promise<string> {
  const r = await run("yubico-piv-tool", ["-r", reader, "-a", "read-certificate", "-s", slot]);
  if (r.status !== 0 || !r.stdout.includes("BEGIN CERTIFICATE")) throw new Error(`no certificate in ${slot}: ${r.out}`);
  return r.stdout;
}

export interface PersonaliseResult {
  /** What the RA's card station answered (card serial, certificate serial, slot, steps, keyAttested...). */
  readonly result: any;
  /** The card's certificate as read back from the card (PEM). */
  readonly certPem: string;
}

/**
 * Has the RA's card station personalise the card in its reader for an order in production:
 * `POST /api/v1/orders/:id/personalise` as a ca-operator (software officer credential), then the
 * certificate read back from the card. Throws with the RA's problem document on a refusal.
 */
export async function personaliseForOrder(o: {
  raUrl: string;
  orderId: string;
  caFile: string;
  operator: { certPem: string; keyPem: string };
  reader?: string;
}): Promise<PersonaliseResult> {
  const u = new URL(`/api/v1/orders/${o.orderId}/personalise`, o.raUrl);
  const reply = await raRequest({ base: new URL(o.raUrl), ca: readFileSync(o.caFile, "utf8") }, "POST", u.pathname, {
    body: o.reader ? { reader: o.reader } : {},
    cred: { cert: o.operator.certPem, key: o.operator.keyPem },
  });
  if (reply.status !== 200) throw new Error(`personalise ${o.orderId}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return { result: reply.body, certPem: await readCardCertificate("9a", o.reader ?? VIRTUAL_READER) };
}
