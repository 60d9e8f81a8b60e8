// Scale-out benchmarks for scripts/bench (REQ-33): OCSP through one vs two public replicas.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPairSync } from "node:crypto";
import { loadConfig } from "../src/composition/config.js";
import { openOperatorCa } from "../src/composition/operator-role.js";
import { ocspRequestDer, serveProcess, stopProcess, wrk } from "./bench-revocation.js";

/**
 * The same client load (two wrk processes, one thread and 8 keep-alive connections each) sent to
 * one public replica, then spread over two; the writer runs beside them, as in production.
 */
export async function benchOcspReplicas(env: NodeJS.ProcessEnv, dir: string, seconds: number) {
  const rt = await openOperatorCa(loadConfig(env));
  const ca = rt.authority("demo-issuing");
  const key = new Uint8Array(
    generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "der" }),
  );
  const serials: string[] = [];
  for (let i = 0; i < 1000; i += 16)
    serials.push(
      ...(
        await Promise.all(
          Array.from({ length: 16 }, () =>
            rt.issuer.issue(ca, {
              profileId: "loa3-smartcard-auth",
              publicKey: key,
              subject: { CN: "Bench Person", O: "Bench AB", organizationIdentifier: "NTRSE-5560000001", C: "SE" },
              requestedBy: "bench-replicas",
              allowedKinds: ["end-entity"],
            }),
          ),
        )
      ).map((c) => c.serial),
    );
  const body = join(dir, "replica-req.der");
  writeFileSync(body, ocspRequestDer(ca.nameDer, ca.signer.spki, serials[123]!));
  await rt.close();

  const writer = await serveProcess(env, "all");
  const replicas = [await serveProcess(env, "public"), await serveProcess(env, "public")];
  try {
    for (const r of replicas) await wrk(`${r.url}/ocsp`, body, 2, 1, 8); // warm-up
    const load = async (targets: string[]) => {
      const rs = await Promise.all(targets.map((u) => wrk(`${u}/ocsp`, body, seconds, 1, 8)));
      return { perSecond: rs.reduce((a, r) => a + r.perSecond, 0), p99Ms: Math.max(...rs.map((r) => r.latencyMs.p99)) };
    };
    const one: { perSecond: number; p99Ms: number }[] = [];
    const two: { perSecond: number; p99Ms: number }[] = [];
    for (let i = 0; i < 3; i++) {
      one.push(await load([replicas[0]!.url, replicas[0]!.url]));
      two.push(await load([replicas[0]!.url, replicas[1]!.url]));
    }
    const median = (xs: { perSecond: number; p99Ms: number }[]) =>
      [...xs].sort((a, b) => a.perSecond - b.perSecond)[1]!;
    const m1 = median(one);
    const m2 = median(two);
    return {
      benchmark:
        "OCSP POST (pre-signed hot path) through `cardpki serve --role public` " +
        "replicas sharing one database; 2 x wrk -t1 -c8 keep-alive, same load in " +
        "both cases; writer running beside",
      oneReplica: { ...m1, runs: one.map((r) => r.perSecond) },
      twoReplicas: { ...m2, runs: two.map((r) => r.perSecond) },
      ratio: Number((m2.perSecond / m1.perSecond).toFixed(2)),
      note:
        "client, replicas and writer share this machine's cores; on separate " +
        "machines behind a load balancer each replica adds its own CPU",
    };
  } finally {
    for (const r of replicas) await stopProcess(r.child);
    await stopProcess(writer.child);
  }
}
