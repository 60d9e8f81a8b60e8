#!/usr/bin/env node
import { CaError } from "../shared/ca-error.js";
import { help, runCommand, type Command, type CommandGroup } from "./command.js";
import { certCommands } from "./commands/cert.commands.js";
import { caCommands } from "./commands/ca.commands.js";
import { serve, setupDemoCmd, signerChannelCmd } from "./commands/serve.commands.js";
import { ceremonyCommands } from "./commands/ceremony.commands.js";
import { crlCommands } from "./commands/crl.commands.js";
import { revokeCommands } from "./commands/revoke.commands.js";
import { raCommands } from "./commands/ra.commands.js";
import { cardCommands } from "./commands/card.commands.js";
import { auditCommands } from "./commands/audit.commands.js";
import { backupCmd, restoreCmd } from "./commands/backup.commands.js";
import { dataCommands } from "./commands/data.commands.js";
import { bureauCommands } from "./commands/bureau.commands.js";

const TOP: readonly (Command | CommandGroup)[] = [
  serve,
  setupDemoCmd,
  signerChannelCmd,
  certCommands,
  crlCommands,
  revokeCommands,
  caCommands,
  ceremonyCommands,
  raCommands,
  cardCommands,
  bureauCommands,
  auditCommands,
  dataCommands,
  backupCmd,
  restoreCmd,
];

function topHelp(): string {
  const lines = ["usage: cardpki COMMAND [SUBCOMMAND] [options]", "", "commands:"];
  for (const c of TOP) {
    if ("commands" in c) for (const s of c.commands) lines.push(`  ${c.name} ${s.name.padEnd(12)} ${s.summary}`);
    else lines.push(`  ${c.name.padEnd(17)} ${c.summary}`);
  }
  lines.push("", "Every command takes --help. Configuration: README.md (CARDPKI_* variables, data/cardpki.json).");
  return lines.join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(topHelp());
    return name ? 0 : 2;
  }
  const top = TOP.find((c) => c.name === name);
  if (!top) throw new CaError("invalid-input", `unknown command '${name}'\n\n${topHelp()}`);
  if (!("commands" in top)) return runCommand(top, rest, "cardpki");
  const [sub, ...args] = rest;
  if (!sub || sub === "--help" || sub === "-h") {
    console.log(
      [
        `usage: cardpki ${top.name} SUBCOMMAND`,
        "",
        ...top.commands.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`),
      ].join("\n"),
    );
    return sub ? 0 : 2;
  }
  const cmd = top.commands.find((c) => c.name === sub);
  if (!cmd)
    throw new CaError("invalid-input", `unknown subcommand '${top.name} ${sub}' (try: cardpki ${top.name} --help)`);
  return runCommand(cmd, args, `cardpki ${top.name}`);
}

/** Exit codes: 0 ok, 1 operation failed, 2 usage error. */
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const ce = e instanceof CaError ? e : undefined;
    console.error(`cardpki: ${ce ? ce.message : e instanceof Error ? e.stack : String(e)}`);
    process.exitCode = ce?.kind === "invalid-input" ? 2 : 1;
  },
);

export { help };
