import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate } from "@peculiar/asn1-x509";
import { nameToString } from "../../asn1/name.js";
import { loadConfig } from "../../composition/config.js";
import { CaDirectory } from "../../ceremony/ca-directory.js";
import type { Command } from "../command.js";

const list: Command = {
  name: "list",
  summary: "List the CAs in ca-store with subject, validity, key URI and whether this instance signs with them.",
  usage: "ca list [--json]",
  options: { json: { type: "boolean", description: "JSON output" } },
  async run(v) {
    const config = loadConfig();
    const dir = new CaDirectory(config.caStoreDir);
    const rows = dir.list().map((id) => {
      const ca = dir.load(id);
      const tbs = AsnConvert.parse(ca.certDer.slice().buffer, Certificate).tbsCertificate;
      return {
        id,
        kind: ca.manifest.kind,
        parent: ca.manifest.parent,
        subject: nameToString(tbs.subject),
        notAfter: tbs.validity.notAfter.getTime().toISOString(),
        keyUri: ca.manifest.keyUri,
        active: config.issuingCas.includes(id),
      };
    });
    if (v.json) console.log(JSON.stringify(rows, null, 2));
    else if (rows.length === 0) console.log(`no CAs in ${config.caStoreDir}`);
    else
      for (const r of rows)
        console.log(`${r.id}\t${r.kind}${r.active ? " (active)" : ""}\t${r.subject}\tuntil ${r.notAfter}\t${r.keyUri}`);
    return 0;
  },
};

export const caCommands = { name: "ca", summary: "CAs: list", commands: [list] };
