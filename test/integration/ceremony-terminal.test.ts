import { expect } from "chai";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, requireTool } from "../support/environment.js";

/** Drives a command in a real pseudo-terminal (util-linux `script`), answering each prompt when it appears. */
function inTerminal(
  cmd: string,
  env: NodeJS.ProcessEnv,
  answers: [RegExp, string][],
): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qec", cmd, "/dev/null"], { env, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let next = 0;
    let seen = 0;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`terminal session timed out; output so far:\n${out}`));
    }, 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      while (next < answers.length) {
        const m = answers[next]![0].exec(out.slice(seen));
        if (!m) break;
        seen += m.index + m[0].length;
        child.stdin.write(answers[next]![1] + "\r");
        next++;
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out });
    });
  });
}

describe("ceremony in a terminal: passphrases without echo, y/N confirmations", function () {
  this.timeout(120_000);
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(function () {
    requireTool(this, "softhsm2-util");
    requireTool(this, "script");
    dir = mkdtempSync(join(tmpdir(), "tty-"));
    mkdirSync(join(dir, "tokens"));
    writeFileSync(
      join(dir, "softhsm2.conf"),
      `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`,
    );
    env = {
      ...process.env,
      SOFTHSM2_CONF: join(dir, "softhsm2.conf"),
      CARDPKI_DATA_DIR: join(dir, "data"),
      CARDPKI_CA_STORE: join(dir, "ca-store"),
    };
    delete env.CARDPKI_CONFIG;
  });

  it(`ok/custodians choose and enter passphrases at the prompt (no echo); the operator confirms each irreversible \
step`, async () => {
    const init = await inTerminal(
      `${process.execPath} ${CLI} ceremony init-softhsm-token --token tty-root ` +
        `--custodian ann --custodian ben --custodian cat --quorum 2 --out-dir ${join(dir, "shares")}`,
      env,
      [
        [/ann, choose a passphrase: /, "ann-secret-passphrase"],
        [/ann, repeat it: /, "ann-secret-passphrase"],
        [/ben, choose a passphrase: /, "ben-secret-passphrase"],
        [/ben, repeat it: /, "ben-secret-passphrase"],
        [/cat, choose a passphrase: /, "cat-secret-passphrase"],
        [/cat, repeat it: /, "cat-secret-passphrase"],
      ],
    );
    expect(init.code, init.out).to.equal(0);
    expect(init.out).to.not.include("secret-passphrase");
    const f = join(dir, "root.yaml");
    writeFileSync(
      f,
      "id: tty-root\nversion: 1\ndescription: d\ncps: [x]\nkind: root\ntoken: tty-root\nkey: { label: k, type: " +
        "RSA-3072 }\nca: { id: tty-root, serialPrefix: 1 }\nprofile: root-ca\nsubject: { CN: TTY Root, O: t, C: SE " +
        "}\ncustodians: { quorum: 2, of: 3 }\n",
    );
    const shares = ["ann", "cat"].map((w) => `--share ${join(dir, "shares", `tty-root-${w}.share`)}`).join(" ");
    const run = await inTerminal(
      `${process.execPath} ${CLI} ceremony run ${f} --operator olga --witness will ${shares}`,
      env,
      [
        [/custodian ann, passphrase for your share of token 'tty-root': /, "ann-secret-passphrase"],
        [/custodian cat, passphrase for your share of token 'tty-root': /, "cat-secret-passphrase"],
        [/generate a RSA-3072 key 'k' on token 'tty-root'\? \[y\/N\] /, "y"],
        [/self-sign the root certificate\? \[y\/N\] /, "y"],
      ],
    );
    expect(run.code, run.out).to.equal(0);
    expect(run.out).to.not.include("secret-passphrase");
    expect(run.out).to.match(/RSA-3072 key generation: done in/);
    expect(existsSync(join(dir, "ca-store", "tty-root", "cert.pem"))).to.equal(true);
  });

  it("fail/a key type the profile refuses is caught before any key is generated", async () => {
    const f = join(dir, "bad.yaml");
    writeFileSync(
      f,
      "id: bad\nversion: 1\ndescription: d\ncps: [x]\nkind: root\ntoken: tty-root\nkey: { label: k3, type: RSA-2048 " +
        "}\nca: { id: bad, serialPrefix: 1 }\nprofile: root-ca\nsubject: { CN: B, O: t, C: SE }\ncustodians: { " +
        "quorum: 2, of: 3 }\nwitness: optional\n",
    );
    const shares = ["ann", "ben"].map((w) => `--share ${join(dir, "shares", `tty-root-${w}.share`)}`).join(" ");
    const run = await inTerminal(`${process.execPath} ${CLI} ceremony run ${f} --operator olga ${shares}`, env, [
      [/custodian ann, .*: /, "ann-secret-passphrase"],
      [/custodian ben, .*: /, "ben-secret-passphrase"],
    ]);
    expect(run.code).to.equal(1);
    expect(run.out).to.match(/key type RSA-2048 not allowed by profile 'root-ca'/);
    expect(run.out).to.not.match(/generate a/);
  });

  it("ok/answering no stops the ceremony before the step and says so", async () => {
    const f = join(dir, "root2.yaml");
    writeFileSync(
      f,
      "id: tty-root2\nversion: 1\ndescription: d\ncps: [x]\nkind: root\ntoken: tty-root\nkey: { label: k2, type: " +
        "P-256 }\nca: { id: tty-root2, serialPrefix: 1 }\nprofile: root-ca\nsubject: { CN: TTY Root 2, O: t, C: SE " +
        "}\ncustodians: { quorum: 2, of: 3 }\n",
    );
    const shares = ["ann", "ben"].map((w) => `--share ${join(dir, "shares", `tty-root-${w}.share`)}`).join(" ");
    const run = await inTerminal(
      `${process.execPath} ${CLI} ceremony run ${f} --operator olga --witness will ${shares}`,
      env,
      [
        [/custodian ann, .*: /, "ann-secret-passphrase"],
        [/custodian ben, .*: /, "ben-secret-passphrase"],
        [/generate a P-256 key 'k2'.*\[y\/N\] /, "n"],
      ],
    );
    expect(run.code).to.equal(1);
    expect(run.out).to.match(/stopped by the operator/);
    expect(existsSync(join(dir, "ca-store", "tty-root2"))).to.equal(false);
  });
});
