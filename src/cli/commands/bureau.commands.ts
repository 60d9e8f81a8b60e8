import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../composition/config.js";
import { openOperatorCa, withOperator } from "../../composition/operator-role.js";
import { openRa } from "../../composition/ra.js";
import {
  BUREAU_EXCHANGE,
  bureauExchangeDir,
  officerFromCredential,
  openBureauDesk,
  sendBatch,
  takeFromDrop,
} from "../../composition/bureau.js";
import { readExchangeIdentity } from "../../composition/bureau-cms.js";
import { bureauSignerDir, bureauSignerName } from "../../composition/bureau-signer.js";
import { folderDrop, type DropFolder } from "../../composition/bureau-drop.js";
import { sftpDrop } from "../../composition/bureau-sftp.js";
import { requireString, type Command, type Options } from "../command.js";

const CRED: Options = {
  cert: { type: "string", description: "your officer certificate (PEM): the actor, as the RA API resolves it" },
  key: { type: "string", description: "its private key (PEM): proves the certificate is yours" },
};
const DROP: Options = {
  drop: { type: "string", description: "the drop folder shared with the bureau (plain folder)" },
  sftp: { type: "string", description: "the drop folder over SFTP: sftp://user@host:port/path (key-only login)" },
  identity: { type: "string", description: "with --sftp: the SSH private key file" },
  "known-hosts": { type: "string", description: "with --sftp: known_hosts file holding the server's host key" },
};

function dropOf(v: Record<string, unknown>): DropFolder {
  if (typeof v.sftp === "string")
    return sftpDrop(v.sftp, { identity: requireString(v, "identity"), knownHosts: requireString(v, "known-hosts") });
  return folderDrop(requireString(v, "drop"));
}

const DIR: Options = { dir: { type: "string", description: "exchange folder (default <data>/bureau)" } };

const certificate: Command = {
  name: "certificate",
  summary:
    "Where the RA's exchange certificate is (for the bureau to install): its key " +
    "is made by a bureau-signer ceremony, in the HSM.",
  usage: "bureau certificate",
  options: {},
  async run() {
    const config = loadConfig();
    const name = bureauSignerName({ config });
    const dir = bureauSignerDir(config.caStoreDir, name);
    console.log(JSON.stringify({ signer: name, certificate: join(dir, "cert.pem"), chain: join(dir, "chain.pem") }));
    return 0;
  },
};

const trust: Command = {
  name: "trust",
  summary:
    "Install the bureau's exchange certificate (batch files are encrypted to it; its answers must be signed by it).",
  usage: "bureau trust --cert FILE [--dir DIR]",
  options: { cert: CRED.cert!, ...DIR },
  async run(v) {
    const config = loadConfig();
    const dir = typeof v.dir === "string" ? v.dir : bureauExchangeDir({ config } as never);
    mkdirSync(dir, { recursive: true });
    copyFileSync(requireString(v, "cert"), join(dir, `${BUREAU_EXCHANGE}.crt`));
    readExchangeIdentity(dir, BUREAU_EXCHANGE, false);
    console.log(JSON.stringify({ installed: join(dir, `${BUREAU_EXCHANGE}.crt`) }));
    return 0;
  },
};

const send: Command = {
  name: "send",
  summary:
    "Send released orders of bureau workflows to the bureau: one signed, encrypted batch file in the drop folder.",
  usage:
    "bureau send --cert FILE --key FILE (--drop DIR | --sftp URL --identity FILE --known-hosts FILE) [--order ID]...",
  options: {
    ...CRED,
    ...DROP,
    order: { type: "string", multiple: true, description: "an order (default: every one waiting)" },
  },
  async run(v) {
    const r = await withOperator(openOperatorCa(loadConfig()), async (rt) => {
      const ra = await openRa(rt);
      const actor = await officerFromCredential(ra, requireString(v, "cert"), requireString(v, "key"));
      const orders = v.order as string[] | undefined;
      return sendBatch(openBureauDesk(rt, ra), actor, dropOf(v), orders?.length ? { orderIds: orders } : {});
    });
    console.log(JSON.stringify(r));
    return 0;
  },
};

const take: Command = {
  name: "import",
  summary:
    "Take the bureau's answer and status files from the drop folder: verified " +
    "whole, certificates issued on hold, return file written.",
  usage: "bureau import --cert FILE --key FILE (--drop DIR | --sftp URL --identity FILE --known-hosts FILE)",
  options: { ...CRED, ...DROP },
  async run(v) {
    const r = await withOperator(openOperatorCa(loadConfig()), async (rt) => {
      const ra = await openRa(rt);
      const actor = await officerFromCredential(ra, requireString(v, "cert"), requireString(v, "key"));
      return takeFromDrop(openBureauDesk(rt, ra), actor, dropOf(v));
    });
    console.log(JSON.stringify(r, null, 2));
    return r.some((x) => !x.accepted) ? 1 : 0;
  },
};

const track: Command = {
  name: "track",
  summary: "Where the cards of a batch are: sent, acknowledged, produced, shipped (carrier, tracking id), received.",
  usage: "bureau track --batch ID",
  options: { batch: { type: "string", description: "the batch id" } },
  async run(v) {
    const r = await withOperator(openOperatorCa(loadConfig()), async (rt) =>
      openBureauDesk(rt, await openRa(rt)).tracking(requireString(v, "batch")),
    );
    console.log(JSON.stringify(r, null, 2));
    return 0;
  },
};

const received: Command = {
  name: "received",
  summary: "Record a card from the bureau as received at the RA office (before the hand-out).",
  usage: "bureau received --order ID --cert FILE --key FILE",
  options: { ...CRED, order: { type: "string", description: "the order" } },
  async run(v) {
    const r = await withOperator(openOperatorCa(loadConfig()), async (rt) => {
      const ra = await openRa(rt);
      const actor = await officerFromCredential(ra, requireString(v, "cert"), requireString(v, "key"));
      return openBureauDesk(rt, ra).received(actor, requireString(v, "order"));
    });
    console.log(JSON.stringify(r));
    return 0;
  },
};

const sweep: Command = {
  name: "sweep",
  summary:
    "Cards shipped and not received within the workflow's bureau.receivedWithin: " +
    "alarm (audit event); received ones recorded.",
  usage: "bureau sweep",
  options: {},
  async run() {
    const r = await withOperator(openOperatorCa(loadConfig()), async (rt) =>
      openBureauDesk(rt, await openRa(rt)).sweep(),
    );
    console.log(JSON.stringify(r));
    return 0;
  },
};

export const bureauCommands = {
  name: "bureau",
  summary: "Card production by an external card bureau: certificate, trust, send, import, track, received, sweep",
  commands: [certificate, trust, send, take, track, received, sweep],
};
