import { loadConfig } from "../../composition/config.js";
import { setupDemo } from "../../composition/demo-setup.js";
import { startService } from "../../composition/serve.js";
import { startDemoDelivery } from "../../composition/demo-delivery.js";
import type { Command } from "../command.js";
import { CaError } from "../../shared/ca-error.js";
import { configureLogs, logger } from "../../shared/log.js";

export const serve: Command = {
  name: "serve",
  summary: "Run the service. --role all (default): the CA/RA writer (one per database; a second waits as standby) with OCSP, CRL, RA API; --role public: a stateless OCSP/CRL replica.",
  usage: "serve [--role all|public] [--demo]",
  options: {
    demo: { type: "boolean", description: "set up SQLite + SoftHSM2 + demo CAs on first start" },
    role: { type: "string", description: "all (CA/RA writer + public endpoints) or public (OCSP, CRL, CA certificates only)" },
  },
  async run(v) {
    const role = (v.role as string | undefined) ?? "all";
    if (role !== "all" && role !== "public") throw new CaError("invalid-input", `--role must be all or public (got '${role}')`);
    let config = loadConfig();
    configureLogs({ format: config.logFormat });
    const log = logger("serve");
    if (v.demo) config = await setupDemo(config, (l) => log.info(l));
    // Demo: a local mail sink, SMS stub and letter folder under data/, so the outbox is really delivered (REQ-15).
    const demoDelivery = v.demo ? await startDemoDelivery(config) : undefined;
    if (demoDelivery) config = demoDelivery.config;
    // SIGTERM/SIGINT: a standby stops waiting; a running service drains, then stops (exit 0).
    const abort = new AbortController();
    let signalled: (() => void) | undefined;
    const onSignal = (sig: string) => {
      log.info("signal received", { signal: sig });
      abort.abort();
      signalled?.();
    };
    process.once("SIGTERM", () => onSignal("SIGTERM"));
    process.once("SIGINT", () => onSignal("SIGINT"));
    let leaseLost: Error | undefined;
    let svc;
    try {
      svc = await startService(config, { role, signal: abort.signal, onLeaseLost: (e) => {
        leaseLost = e;
        signalled?.();
      } });
    } catch (e) {
      await demoDelivery?.stop();
      if (abort.signal.aborted) return 0;
      throw e;
    }
    log.info("serving", { role, url: svc.url, ...(svc.ra ? { ra: svc.ra.url } : {}), cas: svc.cas });
    if (!abort.signal.aborted && !leaseLost) await new Promise<void>((resolve) => (signalled = resolve));
    // The lease is gone: stop at once (no drain) and exit non-zero so the supervisor restarts us as standby.
    await svc.stop(leaseLost ? 0 : config.drainSeconds * 1000);
    await demoDelivery?.stop();
    return leaseLost ? 75 : 0;
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
