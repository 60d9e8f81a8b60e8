import { loadConfig } from "../../composition/config.js";
import { setupDemo } from "../../composition/demo-setup.js";
import { startService } from "../../composition/serve.js";
import type { Command } from "../command.js";

export const serve: Command = {
  name: "serve",
  summary: "Run the CA service (HTTP on CARDPKI_PORT, default 8080). --demo first creates the embedded default if missing.",
  usage: "serve [--demo]",
  options: { demo: { type: "boolean", description: "set up SQLite + SoftHSM2 + demo CAs on first start" } },
  async run(v) {
    let config = loadConfig();
    if (v.demo) config = await setupDemo(config, (l) => console.error(l));
    const svc = await startService(config);
    console.error(`cardpki serving on ${svc.url} (CAs: ${[...svc.runtime.authorities.keys()].join(", ") || "none"})`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        console.error("shutting down");
        void svc.stop().then(resolve);
      };
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
    });
    return 0;
  },
};

export const setupDemoCmd: Command = {
  name: "setup-demo",
  summary: "Create the embedded default (SoftHSM2 tokens, demo root and issuing CA by ceremony, SQLite) if missing.",
  usage: "setup-demo",
  options: {},
  async run() {
    await setupDemo(loadConfig(), (l) => console.error(l));
    return 0;
  },
};
