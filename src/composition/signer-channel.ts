import { readFileSync } from "node:fs";
import type { Server } from "node:https";
import { CaError } from "../shared/ca-error.js";
import { newId } from "../shared/ids.js";
import { logger } from "../shared/log.js";
import { SigningDesk } from "../ca/signing-desk.js";
import { listenSigner, type SignerHandler } from "../rpc/signer-server.js";
import { recordAuditEvent } from "../store/commit-queue.js";
import { closeGracefully } from "../http/server.js";
import type { CaRecords } from "./ca-records.js";
import type { CaSigner } from "./ca-signer-role.js";

const log = logger("ca-signer");

/**
 * The CA signer's channel: the signing desk behind mutual TLS. Every refused request is audited
 * (actor: the client certificate's name); a malformed message is refused before the desk.
 */
export async function signerChannelComponent(rec: CaRecords, signer: CaSigner) {
  const { config, clock, random } = rec;
  const desk = new SigningDesk({
    authority: signer.authority,
    reservations: rec.store,
    profiles: rec.profiles,
    gate: signer.gate,
  });
  const handler: SignerHandler = async (msg, peer) => {
    if (msg.op === "describe") {
      const cas = await Promise.all(
        [...signer.probes].map(async ([id, probe]) => {
          const err = await probe().then(
            () => undefined,
            (e: Error) => e.message,
          );
          return { id, keyReady: err === undefined, ...(err !== undefined ? { keyError: err } : {}) };
        }),
      );
      return { op: "describe", cas };
    }
    try {
      const sig = await desk.signCertificate(msg.ca, new Uint8Array(Buffer.from(msg.tbs, "base64")));
      return { op: "sign-certificate", signature: Buffer.from(sig).toString("base64") };
    } catch (e) {
      if (e instanceof CaError && e.kind !== "hsm-unavailable" && e.kind !== "unavailable")
        await recordAuditEvent(rec.db, {
          id: newId(random),
          at: clock.now(),
          actor: `signer-client:${peer}`,
          action: "signer.sign.refused",
          objectType: "certificate",
          objectId: String(e.details?.serial ?? "unknown"),
          outcome: "failure",
          details: { ca: msg.ca, kind: e.kind, reason: e.message },
        }).catch((err) => log.error("could not audit a refused signing request", { error: err }));
      throw e;
    }
  };
  const read = (what: string, f: string) => {
    try {
      return readFileSync(f);
    } catch (e) {
      throw new CaError(
        "config",
        `signer channel ${what} ${f}: ${(e as Error).message} (see docs/operations.md, split deployment)`,
      );
    }
  };
  const tls = {
    key: read("key", config.signer.tlsKey),
    cert: read("certificate", config.signer.tlsCert),
    ca: read("CA", config.signer.ca),
  };
  let server: Server | undefined;
  let url = "";
  return {
    name: "signer-channel",
    get server() {
      return server!;
    },
    get url() {
      return url;
    },
    async start() {
      server = await listenSigner(handler, tls, config.signer.host, config.signer.port);
      const a = server.address();
      url = `https://${config.signer.host}:${typeof a === "object" && a ? a.port : config.signer.port}`;
      log.info("signer channel listening", { url });
    },
    async stop() {
      if (server) await closeGracefully(server, 10_000);
    },
  };
}
