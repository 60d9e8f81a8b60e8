import { loadConfig } from "../../composition/config.js";
import { setupDemo } from "../../composition/demo-setup.js";
import { SERVE_ROLES, startService, type ServeRole } from "../../composition/serve.js";
import { startDemoDelivery } from "../../composition/demo-delivery.js";
import type { Command } from "../command.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { writeSignerChannelCertificates } from "../../composition/signer-channel-tls.js";
import { systemClock } from "../../shared/clock.js";
import { cryptoRandom } from "../../shared/random.js";
import { CaError } from "../../shared/ca-error.js";
import { configureLogs, logger } from "../../shared/log.js";

export const serve: Command = {
  name: "serve",
  summary:
    "Run the service. --role all (default): CA signer, RA and public endpoints " +
    "in one process (one writer per database; a second waits as standby); --role " +
    "ca-signer: the CA keys behind the signer channel (mutual TLS); --role ra: " +
    "RA API, portal and delivery, signing through the channel; --role public: a " +
    "stateless OCSP/CRL replica.",
  usage: "serve [--role all|ca-signer|ra|public] [--demo]",
  options: {
    demo: { type: "boolean", description: "set up SQLite + SoftHSM2 + demo CAs on first start" },
    role: {
      type: "string",
      description:
        "all (CA signer + RA + public endpoints), ca-signer, ra, or public (OCSP, CRL, CA certificates only)",
    },
  },
  async run(v) {
    const role = (v.role as string | undefined) ?? "all";
    if (!(SERVE_ROLES as readonly string[]).includes(role))
      throw new CaError("invalid-input", `--role must be one of ${SERVE_ROLES.join(", ")} (got '${role}')`);
    if (v.demo && role !== "all")
      throw new CaError("invalid-input", "--demo runs every role in one process: use it with --role all");
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
      svc = await startService(config, {
        role: role as ServeRole,
        signal: abort.signal,
        onLeaseLost: (e) => {
          leaseLost = e;
          signalled?.();
        },
      });
    } catch (e) {
      await demoDelivery?.stop();
      if (abort.signal.aborted) return 0;
      throw e;
    }
    log.info("serving", {
      role,
      url: svc.url,
      ...(svc.ra ? { ra: svc.ra.url } : {}),
      ...(svc.signer ? { signer: svc.signer.url } : {}),
      cas: svc.cas,
    });
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

export const signerChannelCmd: Command = {
  name: "signer-channel-certs",
  summary:
    "Write the CA signer channel's own small PKI into a folder: channel CA, the " +
    "signer's server certificate, the RA's client certificate (keys owner-only).",
  usage: "signer-channel-certs --dir DIR [--host H]...",
  options: {
    dir: { type: "string", description: "output folder (refused when it already holds channel files)" },
    host: {
      type: "string",
      multiple: true,
      description: "the signer's address as the RA reaches it (default 127.0.0.1, localhost, ::1)",
    },
  },
  async run(v) {
    const dir = v.dir as string | undefined;
    if (!dir) throw new CaError("invalid-input", "--dir is required");
    if (existsSync(join(dir, "channel-ca.crt")))
      throw new CaError("conflict", `${dir} already holds a signer channel CA; remove it first to make a new one`);
    const hosts = v.host as string[] | undefined;
    const files = await writeSignerChannelCertificates(
      dir,
      systemClock,
      cryptoRandom,
      hosts && hosts.length > 0 ? { hosts } : {},
    );
    console.log(JSON.stringify(files, null, 2));
    return 0;
  },
};
