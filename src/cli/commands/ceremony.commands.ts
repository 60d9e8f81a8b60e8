import { readFileSync, existsSync } from "node:fs";
import { CaError } from "../../shared/ca-error.js";
import { loadConfig } from "../../composition/config.js";
import {
  currentPinSource,
  initSoftHsmTokenWithShares,
  runCeremonyFile,
  splitTokenPin,
  writeShareFiles,
} from "../../composition/ceremonies.js";
import { openShare, parseShareFile, type Custodian, type OpenedShare } from "../../ceremony/pin-shares.js";
import { verifyTranscriptFile } from "../../ceremony/ceremony.js";
import { CaDirectory } from "../../ceremony/ca-directory.js";
import { promptHidden, terminalUi } from "../terminal.js";
import { requireString, type Command } from "../command.js";

function readSecretFile(path: string): string {
  try {
    return readFileSync(path, "utf8").replace(/\r?\n$/, "");
  } catch (e) {
    throw new CaError("invalid-input", `cannot read ${path}: ${(e as Error).message}`);
  }
}

/** --share FILE (passphrase asked on the terminal, no echo) or --share FILE=PASSPHRASE_FILE (scripts, tests). */
export async function collectShares(args: readonly string[]): Promise<OpenedShare[]> {
  const out: OpenedShare[] = [];
  for (const a of args) {
    const i = a.indexOf("=");
    const file = i < 0 ? a : a.slice(0, i);
    if (!existsSync(file)) throw new CaError("invalid-input", `share file ${file} not found`);
    const share = parseShareFile(readSecretFile(file), file);
    const pass =
      i < 0
        ? await promptHidden(`custodian ${share.custodian}, passphrase for your share of token '${share.token}': `)
        : readSecretFile(a.slice(i + 1));
    out.push(openShare(share, pass));
  }
  return out;
}

/** --custodian NAME (passphrase asked twice) or NAME=PASSPHRASE_FILE. */
async function collectCustodians(args: readonly string[]): Promise<Custodian[]> {
  const out: Custodian[] = [];
  for (const a of args) {
    const i = a.indexOf("=");
    if (i >= 0) {
      out.push({ name: a.slice(0, i), passphrase: readSecretFile(a.slice(i + 1)) });
      continue;
    }
    const p1 = await promptHidden(`custodian ${a}, choose a passphrase: `);
    const p2 = await promptHidden(`custodian ${a}, repeat it: `);
    if (p1 !== p2) throw new CaError("invalid-input", `the two passphrases of ${a} differ`);
    out.push({ name: a, passphrase: p1 });
  }
  return out;
}

const run: Command = {
  name: "run",
  summary:
    "Run a reviewed ceremony file (root, issuing-ca, ocsp-signer, audit-signer, " +
    "bureau-signer, root-crl, key-backup, data-key) with M of N custodian " +
    "shares; writes a signed transcript.",
  usage: "ceremony run FILE --operator NAME [--witness NAME] --share FILE[=PASSFILE]... [--yes] [--dry-run]",
  options: {
    operator: { type: "string", description: "the operator running the ceremony (recorded)" },
    witness: { type: "string", description: "the witness present (recorded; required unless the file says optional)" },
    share: {
      type: "string",
      multiple: true,
      description: "a custodian's PIN share; passphrase prompted without echo, or =PASSFILE",
    },
    yes: { type: "boolean", description: "answer yes to every confirmation (scripts)" },
    "dry-run": {
      type: "boolean",
      description: "run the whole ceremony on throw-away SoftHSM2 tokens; nothing real is touched",
    },
  },
  async run(v, pos) {
    if (pos.length !== 1) throw new CaError("invalid-input", "give one ceremony file");
    const operator = requireString(v, "operator");
    const dryRun = v["dry-run"] === true;
    const shares = dryRun ? [] : await collectShares((v.share as string[] | undefined) ?? []);
    const result = await runCeremonyFile(loadConfig(), {
      file: pos[0]!,
      operator,
      ...(typeof v.witness === "string" ? { witness: v.witness } : {}),
      shares,
      ui: terminalUi({ yes: v.yes === true }),
      dryRun,
    });
    // A dry run's folder is thrown away: show its transcript instead of a path.
    console.log(
      JSON.stringify(
        dryRun
          ? { ceremony: result.transcript.ceremony.id, dryRun, transcript: result.transcript }
          : {
              ceremony: result.transcript.ceremony.id,
              dryRun,
              transcript: result.transcriptPath,
              outputs: result.outputs,
              serial: result.serial,
              keyId: result.keyId,
            },
      ),
    );
    return 0;
  },
};

const verify: Command = {
  name: "verify",
  summary:
    "Verify a ceremony transcript: its signature by the key of the certificate " +
    "it names (from ca-store), and the SHA-256 of every output still present.",
  usage: "ceremony verify TRANSCRIPT [--ca-store DIR]",
  options: {
    "ca-store": { type: "string", description: "the CA store holding the certificates (default: configured ca-store)" },
  },
  async run(v, pos) {
    if (pos.length !== 1) throw new CaError("invalid-input", "give one transcript file");
    const store = typeof v["ca-store"] === "string" ? v["ca-store"] : loadConfig().caStoreDir;
    const { transcript, checkedOutputs } = verifyTranscriptFile(new CaDirectory(store), pos[0]!);
    console.log(
      `OK: ${transcript.ceremony.kind} ceremony '${transcript.ceremony.id}' ` +
        `v${transcript.ceremony.version}, ${transcript.steps.length} steps, signed ` +
        `by ${transcript.signer.description}; ${checkedOutputs} output(s) match`,
    );
    return 0;
  },
};

const splitPin: Command = {
  name: "split-pin",
  summary:
    "Replace a token's user PIN with a fresh random one (C_SetPIN) and split it " +
    "into custodian shares, M of N, each under its custodian's passphrase.",
  usage:
    "ceremony split-pin --token LABEL (--pin-file F | --pin-env VAR) --custodian " +
    "NAME[=PASSFILE]... --quorum M --out-dir DIR",
  options: {
    token: { type: "string", description: "token label" },
    "pin-file": { type: "string", description: "file with the current user PIN (mode 600)" },
    "pin-env": { type: "string", description: "environment variable with the current user PIN" },
    custodian: {
      type: "string",
      multiple: true,
      description: "custodian name; passphrase prompted twice, or =PASSFILE",
    },
    quorum: { type: "string", description: "shares needed to rebuild the PIN (default 2)" },
    "out-dir": { type: "string", description: "where the share files go (one per custodian; never overwritten)" },
  },
  async run(v) {
    const token = requireString(v, "token");
    const current = currentPinSource(v["pin-file"] as string | undefined, v["pin-env"] as string | undefined);
    const quorum = Number(v.quorum ?? 2);
    const custodians = await collectCustodians((v.custodian as string[] | undefined) ?? []);
    const shares = await splitTokenPin(loadConfig(), token, current, custodians, quorum);
    const files = writeShareFiles(requireString(v, "out-dir"), shares);
    console.error(`token '${token}': PIN replaced; ${quorum} of ${shares.length} custodians now needed`);
    console.log(JSON.stringify({ token, quorum, shares: files }));
    return 0;
  },
};

const initSoftHsm: Command = {
  name: "init-softhsm-token",
  summary:
    "Development and tests: create a SoftHSM2 token with random PINs and split " +
    "its user PIN among custodians (production HSMs use split-pin).",
  usage: "ceremony init-softhsm-token --token LABEL --custodian NAME[=PASSFILE]... [--quorum M] --out-dir DIR",
  options: {
    token: { type: "string", description: "token label" },
    custodian: {
      type: "string",
      multiple: true,
      description: "custodian name; passphrase prompted twice, or =PASSFILE",
    },
    quorum: { type: "string", description: "shares needed (default 2)" },
    "out-dir": { type: "string", description: "where the share files go" },
  },
  async run(v) {
    const token = requireString(v, "token");
    const outDir = requireString(v, "out-dir");
    const custodians = await collectCustodians((v.custodian as string[] | undefined) ?? []);
    const shares = await initSoftHsmTokenWithShares(loadConfig(), token, custodians, Number(v.quorum ?? 2));
    console.log(JSON.stringify({ token, shares: writeShareFiles(outDir, shares) }));
    return 0;
  },
};

export const ceremonyCommands = {
  name: "ceremony",
  summary: "key ceremonies: run, verify, split-pin, init-softhsm-token",
  commands: [run, verify, splitPin, initSoftHsm],
};
