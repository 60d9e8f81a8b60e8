import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { parseArgs } from "node:util";
import { CaError } from "../shared/ca-error.js";
import { pemBlocks } from "../asn1/der.js";

export interface Option {
  readonly type: "string" | "boolean";
  readonly multiple?: boolean;
  readonly description: string;
}
export type Options = Readonly<Record<string, Option>>;

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: Options;
  run(values: Record<string, string | boolean | string[] | undefined>, positionals: string[]): Promise<number>;
}

export interface CommandGroup {
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly Command[];
}

export function help(cmd: Command, prefix: string): string {
  const lines = [`usage: ${prefix} ${cmd.usage}`, "", cmd.summary, "", "options:"];
  for (const [k, o] of Object.entries(cmd.options)) {
    const desc = o.description;
    lines.push(`  --${k}${o.type === "string" ? " VALUE" : ""}${o.multiple ? " (repeatable)" : ""}  ${desc}`);
  }
  lines.push("  --help  show this help");
  return lines.join("\n");
}

export async function runCommand(cmd: Command, args: string[], prefix: string): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(help(cmd, prefix));
    return 0;
  }
  let parsed;
  try {
    const options = Object.fromEntries(
      Object.entries(cmd.options).map(([k, o]) => [k, { type: o.type, multiple: o.multiple ?? false }]),
    );
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new CaError("invalid-input", `${(e as Error).message}\n\n${help(cmd, prefix)}`);
  }
  return cmd.run(parsed.values as Record<string, string | boolean | string[] | undefined>, parsed.positionals);
}

export function requireString(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== "string" || v.length === 0) throw new CaError("invalid-input", `--${name} is required`);
  return v;
}

/** An operator or witness name: a login-like identifier, never free text (no spaces, no control characters). */
export const OPERATOR_NAME = /^[a-z][a-z0-9._-]{1,31}$/;

/** A required --NAME naming a person (operator, witness): checked against OPERATOR_NAME. */
export function personNameArg(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== "string" || v.length === 0)
    throw new CaError(
      "invalid-input",
      `--${name} is required: the name of the person doing this, recorded in the audit trail (REQ-27)`,
    );
  if (!OPERATOR_NAME.test(v))
    throw new CaError(
      "invalid-input",
      `--${name} '${JSON.stringify(v).slice(1, -1).slice(0, 40)}' is not an ` +
        `operator name (2 to 32 of a-z 0-9 . _ -, starting with a letter); REQ-27`,
    );
  return v;
}

/** The OS account running the command (recorded beside the operator's name). */
export function osUser(): string {
  let u: string | undefined;
  try {
    u = userInfo().username;
  } catch {
    u = process.env.USER;
  }
  const clean = (u ?? "").replace(/[^A-Za-z0-9._-]/g, "?").slice(0, 32);
  return clean || `uid-${process.getuid?.() ?? "unknown"}`;
}

/**
 * Who runs a command that changes orders, certificates or records, for the audit trail: the
 * required, validated --operator and the OS user, as `operator:<name>@os:<user>` (REQ-27).
 */
export function operatorArg(values: Record<string, unknown>): string {
  return `${personNameArg(values, "operator")}@os:${osUser()}`;
}

/**
 * For commands that change nothing (backup, a holder's own PIN): --operator when given (validated), else the OS user.
 */
export function recordedBy(values: Record<string, unknown>): string {
  return values.operator === undefined ? `os:${osUser()}` : operatorArg(values);
}

/** The option entry every changing command declares. */
export const OPERATOR_OPTION = {
  type: "string",
  description: "your operator name (required; recorded in the audit trail with the OS user)",
} as const satisfies Option;

/** The bytes of a file named on the command line; an unreadable file is the caller's error. */
export function readFileArg(f: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(f));
  } catch (e) {
    throw new CaError("invalid-input", `cannot read ${f}: ${(e as Error).message}`);
  }
}

/** A SubjectPublicKeyInfo from a PEM ('PUBLIC KEY') file named on the command line. */
export function publicKeyArg(f: string): Uint8Array {
  const spki = pemBlocks(readFileArg(f), "PUBLIC KEY")[0];
  if (!spki) throw new CaError("invalid-input", `${f}: no PUBLIC KEY found`);
  return spki;
}
