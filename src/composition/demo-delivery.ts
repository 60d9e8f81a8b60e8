import { createServer, type Server } from "node:http";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { timingSafeEqual } from "node:crypto";
import { SMTPServer } from "smtp-server";
import type { Config } from "./config.js";
import { logger } from "../shared/log.js";
import { systemClock } from "../shared/clock.js";
import { cryptoRandom } from "../shared/random.js";

const log = logger("demo-delivery");

/**
 * The message as a person reads it (headers, then the text with quoted-printable undone): data/mail/*.txt beside the
 * .eml.
 */
function readable(raw: Buffer): string {
  const text = raw.toString("latin1");
  const split = text.search(/\r?\n\r?\n/);
  const head = split < 0 ? text : text.slice(0, split);
  let body = split < 0 ? "" : text.slice(split).replace(/^\r?\n\r?\n/, "");
  if (/^Content-Transfer-Encoding:\s*quoted-printable/im.test(head))
    body = body
      .replace(/=\r?\n/g, "")
      .replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  // RFC 2047 encoded words (a subject in Swedish or Danish) as text.
  const words = (v: string) =>
    v.replace(/=\?utf-8\?([QB])\?([^?]*)\?=\s*/gi, (_m, enc: string, t: string) =>
      enc.toUpperCase() === "B"
        ? Buffer.from(t, "base64").toString("utf8")
        : Buffer.from(
            t.replace(/_/g, " ").replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16))),
            "latin1",
          ).toString("utf8"),
    );
  const pick = (h: string) =>
    words(new RegExp(`^${h}:.*(?:\r?\n[ \t].*)*`, "im").exec(head)?.[0]?.replace(/\r?\n[ \t]+/g, " ") ?? "");
  return [pick("From"), pick("To"), pick("Subject"), pick("Date"), "", Buffer.from(body, "latin1").toString("utf8")]
    .join("\n")
    .replace(/\r\n/g, "\n");
}

const stamp = (d = systemClock.now()) => d.toISOString().replace(/[-:.]/g, "");
const safe = (s: string) =>
  s.replace(/[^A-Za-z0-9_-]/g, "").slice(0, 64) || Buffer.from(cryptoRandom.bytes(8)).toString("hex");

/**
 * The demo's delivery peers, in process and on 127.0.0.1 only: a mail sink (SMTP with STARTTLS
 * under the demo server certificate) that writes each message to data/mail/<time>-<id>.eml (and a
 * readable .txt beside it), an
 * SMS gateway stub (bearer token in data/sms-token, 0600) that writes data/sms/<time>-<id>.json,
 * and letters as PDF print files in data/letters/. Only for channels the configuration leaves unset.
 */
export async function startDemoDelivery(config: Config): Promise<{ config: Config; stop: () => Promise<void> }> {
  const d = config.delivery;
  const stops: (() => Promise<void>)[] = [];
  let email = d.email,
    sms = d.sms,
    mail = d.mail;
  if (!email && existsSync(config.ra.tlsCert) && existsSync(config.ra.tlsKey)) {
    const dir = join(config.dataDir, "mail");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const server = new SMTPServer({
      key: readFileSync(config.ra.tlsKey),
      cert: readFileSync(config.ra.tlsCert),
      authOptional: true,
      disabledCommands: ["AUTH"],
      banner: "cardpki demo mail sink",
      size: 1 << 20,
      onData(stream, _session, done) {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          const raw = Buffer.concat(chunks);
          const id = /^Message-ID:\s*<([^@>]+)/im.exec(raw.subarray(0, 8192).toString("latin1"))?.[1];
          const name = `${stamp()}-${safe(id ?? "")}`;
          writeFileSync(join(dir, `${name}.eml`), raw, { mode: 0o600 });
          writeFileSync(join(dir, `${name}.txt`), readable(raw), { mode: 0o600 });
          done();
        });
      },
    });
    server.on("error", (e) => log.warn("demo mail sink", { error: e }));
    await new Promise<void>((resolve, reject) => {
      server.listen(0, "127.0.0.1", () => resolve());
      server.server.once("error", reject);
    });
    const port = (server.server.address() as { port: number }).port;
    email = {
      url: `smtp://127.0.0.1:${port}`,
      from: "cardpki demo <no-reply@cardpki.demo>",
      requireTls: true,
      caFile: config.ra.tlsCert,
    };
    stops.push(() => new Promise<void>((r) => server.close(() => r())));
    log.info("demo mail sink (STARTTLS) writes each message to data/mail/", { port });
  }
  if (!sms) {
    const dir = join(config.dataDir, "sms");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tokenFile = join(config.dataDir, "sms-token");
    if (!existsSync(tokenFile))
      writeFileSync(tokenFile, Buffer.from(cryptoRandom.bytes(24)).toString("hex"), { mode: 0o600, flag: "wx" });
    chmodSync(tokenFile, 0o600);
    const expected = Buffer.from(`Bearer ${readFileSync(tokenFile, "utf8").trim()}`);
    const seen = new Set<string>();
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const auth = Buffer.from(req.headers.authorization ?? "");
        if (auth.length !== expected.length || !timingSafeEqual(auth, expected)) return void res.writeHead(401).end();
        const key = String(req.headers["idempotency-key"] ?? "");
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          return void res.writeHead(400).end();
        }
        // Like a real gateway: a message sent again under the same key is sent once.
        if (!key || !seen.has(key))
          writeFileSync(
            join(dir, `${stamp()}-${safe(key)}.json`),
            JSON.stringify({ idempotencyKey: key, ...(body as object) }, null, 2) + "\n",
            { mode: 0o600 },
          );
        if (key) seen.add(key);
        res.writeHead(202, { "content-type": "application/json" }).end(JSON.stringify({ accepted: true }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    sms = { url: `http://127.0.0.1:${port}/sms`, token: { file: tokenFile } };
    stops.push(() => new Promise<void>((r) => server.close(() => r())));
    log.info("demo SMS gateway stub writes each message to data/sms/", { port });
  }
  mail ??= { spoolDir: join(config.dataDir, "letters") };
  return {
    config: { ...config, delivery: { ...d, ...(email ? { email } : {}), sms, mail } },
    stop: async () => {
      for (const s of stops) await s();
    },
  };
}
