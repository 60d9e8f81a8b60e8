import { writeFileSync, existsSync } from "node:fs";
import { CaError } from "../../shared/ca-error.js";
import { loadConfig } from "../../composition/config.js";
import { openOperatorCrls, withOperator } from "../../composition/operator-role.js";
import { OPERATOR_OPTION, operatorArg, type Command } from "../command.js";

const generate: Command = {
  name: "generate",
  summary: "Sign a new full (or --delta) CRL for an issuing CA now; the service also does this on its schedule.",
  usage: "crl generate [--ca ID] [--delta] [--out FILE] --operator NAME",
  options: {
    ca: { type: "string", description: "issuing CA id (default: every active one)" },
    delta: { type: "boolean", description: "a delta CRL over the latest full CRL" },
    out: { type: "string", description: "also write the DER CRL here (refuses to overwrite)" },
    operator: OPERATOR_OPTION,
  },
  async run(v) {
    const actor = `operator:${operatorArg(v)}`;
    const out = v.out as string | undefined;
    if (out && existsSync(out)) throw new CaError("conflict", `${out} exists; refusing to overwrite`);
    return withOperator(openOperatorCrls(loadConfig()), async (rt) => {
      const ids = typeof v.ca === "string" ? [v.ca] : [...rt.authorities.keys()];
      if (ids.length === 0) throw new CaError("config", "no active issuing CA (issuingCas in the configuration)");
      if (out && ids.length !== 1) throw new CaError("invalid-input", "--out needs a single --ca");
      for (const id of ids) {
        const a = rt.authority(id);
        const crl = v.delta ? await rt.crls.generateDelta(a, actor) : await rt.crls.generateFull(a, actor);
        if (!crl) throw new CaError("conflict", `no full CRL of ${id} yet to base a delta on`);
        if (out) writeFileSync(out, crl.der, { flag: "wx" });
        console.log(
          JSON.stringify({
            ca: id,
            kind: crl.kind,
            number: crl.number.toString(),
            entries: crl.entries,
            thisUpdate: crl.thisUpdate,
            nextUpdate: crl.nextUpdate,
          }),
        );
      }
      return 0;
    });
  },
};

export const crlCommands = { name: "crl", summary: "CRLs: generate", commands: [generate] };
