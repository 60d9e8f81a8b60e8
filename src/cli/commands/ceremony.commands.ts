import { CaError } from "../../shared/ca-error.js";
import { loadConfig } from "../../composition/config.js";
import { caUrls, openRuntime } from "../../composition/runtime.js";
import { loadCeremonyScript } from "../../ceremony/ceremony-script.js";
import { runCeremony } from "../../ceremony/ceremony.js";
import { requireString, type Command } from "../command.js";

const run: Command = {
  name: "run",
  summary: "Run a reviewed ceremony file (root or issuing-ca): key in the HSM, certificate, public record in ca-store.",
  usage: "ceremony run FILE --operator NAME",
  options: { operator: { type: "string", description: "the operator running the ceremony (recorded)" } },
  async run(v, pos) {
    if (pos.length !== 1) throw new CaError("invalid-input", "give one ceremony file");
    const operator = requireString(v, "operator");
    const script = loadCeremonyScript(pos[0]!);
    const config = loadConfig();
    const rt = await openRuntime(config, { withoutAuthorities: true });
    try {
      const r = await runCeremony(script, {
        keystore: rt.keystore, caDir: rt.caDir, issuer: rt.issuer, clock: rt.clock, urls: caUrls(config.baseUrl),
        operator: `operator:${operator}`, log: (l) => console.error(l),
      });
      console.log(JSON.stringify({ ca: r.ca.manifest.id, dir: r.ca.dir, serial: r.serial, keyId: r.keyId, spkiSha256: r.spkiSha256 }));
      return 0;
    } finally {
      await rt.close();
    }
  },
};

export const ceremonyCommands = { name: "ceremony", summary: "key ceremonies: run", commands: [run] };
