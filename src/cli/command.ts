import { readFileSync } from "node:fs";
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
    const options = Object.fromEntries(Object.entries(cmd.options).map(([k, o]) => [k, { type: o.type, multiple: o.multiple ?? false }]));
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

/** Who runs the command, for the audit trail: --operator, else $USER. */
export function operatorArg(values: Record<string, unknown>): string {
  return (values.operator as string | undefined) ?? process.env.USER ?? "unknown";
}

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
