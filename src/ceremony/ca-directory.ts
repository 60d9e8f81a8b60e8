import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { CaError } from "../shared/ca-error.js";
import { pemBlocks, toPem } from "../asn1/der.js";

/** `ca-store/<ca>/ca.json`: the public description of one CA (never a private key or PIN). */
export interface CaManifest {
  readonly id: string;
  readonly kind: "root" | "issuing";
  /** ca-store id of the CA that signed this one (itself for a root). */
  readonly parent: string;
  readonly profile: string;
  /** RFC 7512 URI of the signing key, without PIN. */
  readonly keyUri: string;
  readonly serialPrefix: number;
  readonly createdAt: string;
  readonly ceremony: string;
}

export interface StoredCa {
  readonly manifest: CaManifest;
  readonly certDer: Uint8Array;
  /** This CA's certificate followed by its parents up to the root. */
  readonly chainDer: readonly Uint8Array[];
  readonly dir: string;
}

/** The public, append-only CA material directory (design: ca-store/). */
export class CaDirectory {
  constructor(readonly root: string) {}

  dir(id: string): string {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(id)) throw new CaError("invalid-input", `bad CA id '${id}'`);
    return join(this.root, id);
  }

  exists(id: string): boolean {
    return existsSync(join(this.dir(id), "ca.json"));
  }

  list(): string[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(this.root, d.name, "ca.json")))
      .map((d) => d.name)
      .sort();
  }

  load(id: string): StoredCa {
    const dir = this.dir(id);
    if (!this.exists(id)) throw new CaError("not-found", `no CA '${id}' in ${this.root}`);
    const manifest = JSON.parse(readFileSync(join(dir, "ca.json"), "utf8")) as CaManifest;
    const certDer = pemBlocks(readFileSync(join(dir, "cert.pem"), "utf8"), "CERTIFICATE")[0];
    if (!certDer) throw new CaError("config", `${dir}/cert.pem holds no certificate`);
    const chainDer = pemBlocks(readFileSync(join(dir, "chain.pem"), "utf8"), "CERTIFICATE");
    return { manifest, certDer, chainDer, dir };
  }

  /** Writes a new CA; refuses to overwrite anything (append-only). */
  create(manifest: CaManifest, certDer: Uint8Array, parentChain: readonly Uint8Array[]): StoredCa {
    const dir = this.dir(manifest.id);
    if (existsSync(dir) && readdirSync(dir).some((f) => ["ca.json", "cert.pem", "chain.pem", "key.uri"].includes(f)))
      throw new CaError("conflict", `${dir} already holds a CA: ca-store is append-only`);
    mkdirSync(dir, { recursive: true });
    const chain = [certDer, ...parentChain];
    const write = (name: string, data: string) => writeFileSync(join(dir, name), data, { flag: "wx" });
    write("cert.pem", toPem("CERTIFICATE", certDer));
    write("chain.pem", chain.map((c) => toPem("CERTIFICATE", c)).join(""));
    write("key.uri", manifest.keyUri + "\n");
    write("ca.json", JSON.stringify(manifest, null, 2) + "\n");
    return { manifest, certDer, chainDer: chain, dir };
  }

  /** Writes a new file under the store; refuses to overwrite (append-only). Returns its path relative to the store. */
  writeNew(rel: string, data: string | Uint8Array): string {
    const path = join(this.root, rel);
    if (relative(this.root, path).startsWith(".."))
      throw new CaError("invalid-input", `path ${rel} leaves the CA store`);
    if (existsSync(path)) throw new CaError("conflict", `${path} exists: ca-store is append-only`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, data, { flag: "wx" });
    return relative(this.root, path);
  }

  /** CRL numbers already issued by a CA from ceremonies (ca-store/<id>/crl/<n>.crl). */
  crlNumbers(id: string): bigint[] {
    const dir = join(this.dir(id), "crl");
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .map((f) => /^(\d+)\.crl$/.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .map((n) => BigInt(n));
  }

  readFile(rel: string): Buffer {
    const path = join(this.root, rel);
    if (relative(this.root, path).startsWith(".."))
      throw new CaError("invalid-input", `path ${rel} leaves the CA store`);
    if (!existsSync(path)) throw new CaError("not-found", `${path} not found`);
    return readFileSync(path);
  }

  has(rel: string): boolean {
    return existsSync(join(this.root, rel));
  }
}
