import { createInterface } from "node:readline";
import { CaError } from "../shared/ca-error.js";
import type { CeremonyUi } from "../ceremony/ceremony.js";

/** Reads a line from the terminal without echo (passphrases). */
export function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY)
    return Promise.reject(
      new CaError("invalid-input", "no terminal to ask for a passphrase; give --share FILE=PASSPHRASE_FILE"),
    );
  return new Promise((resolve, reject) => {
    let value = "";
    // Echo off before the prompt shows: an answer typed (or sent) at once is never displayed.
    stdin.setRawMode(true);
    process.stderr.write(question);
    stdin.resume();
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return done();
        if (ch === "\u0003") return done(new CaError("conflict", "interrupted"));
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on("data", onData);
  });
}

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await new Promise((resolve) => rl.question(question, resolve));
  } finally {
    rl.close();
  }
}

/** The ceremony room's view: numbered steps on stderr, y/N before irreversible steps, a progress line. */
export function terminalUi(opts: { yes: boolean; log?: (l: string) => void }): CeremonyUi {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + "\n"));
  return {
    step: (n, text) => log(`[${n}] ${text}`),
    async confirm(question) {
      if (opts.yes) {
        log(`    ${question} yes (--yes)`);
        return true;
      }
      if (!process.stdin.isTTY)
        throw new CaError("invalid-input", `confirmation needed (${question}): run in a terminal or pass --yes`);
      return /^y(es)?$/i.test((await ask(`    ${question} [y/N] `)).trim());
    },
    async progress(label, work) {
      const t0 = performance.now(); // elapsed time on the monotonic clock, not the time of day
      const frames = ["|", "/", "-", "\\"];
      let i = 0;
      const tty = process.stderr.isTTY;
      const timer = setInterval(() => {
        const s = ((performance.now() - t0) / 1000).toFixed(0);
        if (tty) process.stderr.write(`\r    ${frames[i++ % 4]} ${label}: ${s} s`);
        else if (i++ % 10 === 9) log(`    ${label}: ${s} s`);
      }, 500);
      try {
        return await work;
      } finally {
        clearInterval(timer);
        if (tty) process.stderr.write(`\r    ${label}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      }
    },
  };
}
