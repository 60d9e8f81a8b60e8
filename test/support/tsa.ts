import { createServer, type Server } from "node:http";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * An RFC 3161 time-stamp authority for tests: a local HTTP responder (RFC 3161 3.4: POST
 * application/timestamp-query → application/timestamp-reply) that runs `openssl ts -reply` with a
 * TSA key and certificate this helper makes (P-256, sole critical EKU timeStamping). `down` makes
 * it answer 503 (a TSA outage); every query it answered is counted.
 */
export interface TestTsa {
  readonly url: string;
  readonly certFile: string;
  readonly dir: string;
  down: boolean;
  answered: number;
  close(): Promise<void>;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

/** A TSA key and certificate (and an openssl ts config) in a fresh folder. */
export function makeTsaFiles(name = "cardpki test TSA"): { dir: string; certFile: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), "tsa-"));
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      "tsa.key",
      "-out",
      "tsa.crt",
      "-subj",
      `/CN=${name}`,
      "-days",
      "3",
      "-addext",
      "extendedKeyUsage=critical,timeStamping",
      "-addext",
      "keyUsage=critical,digitalSignature",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
    ],
    dir,
  );
  writeFileSync(join(dir, "serial"), "01\n");
  const config = join(dir, "tsa.cnf");
  writeFileSync(
    config,
    `[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = ${dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.3161.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`,
  );
  return { dir, certFile: join(dir, "tsa.crt"), config };
}

export async function startTestTsa(): Promise<TestTsa> {
  const { dir, certFile, config } = makeTsaFiles();
  let n = 0;
  const state = { down: false, answered: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (state.down) {
        res.writeHead(503).end("down for the test");
        return;
      }
      if (req.method !== "POST" || req.headers["content-type"] !== "application/timestamp-query") {
        res.writeHead(415).end();
        return;
      }
      const q = join(dir, `q${++n}.tsq`),
        a = join(dir, `a${n}.tsr`);
      writeFileSync(q, Buffer.concat(chunks));
      const r = spawnSync("openssl", ["ts", "-reply", "-config", config, "-queryfile", q, "-out", a], {
        encoding: "utf8",
      });
      if (r.status !== 0) {
        res.writeHead(500).end(r.stderr);
        return;
      }
      state.answered++;
      const body = readFileSync(a);
      res.writeHead(200, { "content-type": "application/timestamp-reply", "content-length": body.length }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address() as { port: number };
  return Object.assign(state, {
    url: `http://127.0.0.1:${addr.port}/tsa`,
    certFile,
    dir,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }) as TestTsa;
}
