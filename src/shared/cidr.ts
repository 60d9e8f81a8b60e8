import { BlockList, isIPv4, isIPv6 } from "node:net";
import { CaError } from "./ca-error.js";

/** One network of an allow-list, parsed strictly. */
export interface Cidr {
  readonly family: "ipv4" | "ipv6";
  readonly address: string;
  readonly prefix: number;
}

const bad = (c: string, why: string) =>
  new CaError("invalid-input", `'${c}' is not an IPv4 or IPv6 network in CIDR form (${why}); REQ-23`, undefined, {
    code: "organisation.bad-cidr",
    params: { cidr: c.slice(0, 43) },
  });

/** The address as a bigint (v4: 32 bits, v6: 128 bits); the caller checked the family. */
function addressBits(addr: string, family: "ipv4" | "ipv6"): bigint {
  if (family === "ipv4") return addr.split(".").reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n);
  const [head, tail] = addr.includes("::") ? (addr.split("::") as [string, string]) : [addr, undefined];
  const groups = (s: string | undefined) =>
    (s ? s.split(":") : []).flatMap((g) => {
      if (!g.includes(".")) return [parseInt(g, 16)];
      const v4 = Number(addressBits(g, "ipv4")); // IPv4-mapped tail: two groups
      return [v4 >>> 16, v4 & 0xffff];
    });
  const h = groups(head),
    t = groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  return all.reduce((a, g) => (a << 16n) | BigInt(g), 0n);
}

/**
 * REQ-23: a strict CIDR parser: `address/prefix` with a prefix of decimal digits in range (0..32,
 * 0..128), no empty or signed prefix (`10.0.0.1/` is refused, never read as /0), no zone id, no
 * host bits set below the prefix (`10.0.0.1/8` is refused: write `10.0.0.0/8`).
 */
export function parseCidr(c: string): Cidr {
  if (typeof c !== "string" || c.length > 43 || /\s/.test(c)) throw bad(String(c), "malformed");
  const parts = c.split("/");
  if (parts.length !== 2) throw bad(c, "address/prefix expected");
  const [address, bits] = parts as [string, string];
  const family = isIPv4(address) ? "ipv4" : isIPv6(address) && !address.includes("%") ? "ipv6" : undefined;
  if (!family) throw bad(c, "no IPv4 or IPv6 address");
  if (!/^(0|[1-9][0-9]{0,2})$/.test(bits)) throw bad(c, "the prefix length is missing or not a decimal number");
  const prefix = Number(bits);
  const width = family === "ipv4" ? 32 : 128;
  if (prefix > width) throw bad(c, `the prefix length is above ${width}`);
  const hostMask = (1n << BigInt(width - prefix)) - 1n;
  if ((addressBits(address, family) & hostMask) !== 0n) throw bad(c, "host bits set below the prefix");
  return { family, address, prefix };
}

/** Parses a CIDR list (REQ-23 allow-lists) strictly; anything that is not an IPv4/IPv6 network is invalid-input. */
export function parseCidrs(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const n = parseCidr(c);
    list.addSubnet(n.address, n.prefix, n.family);
  }
  return list;
}

/** Is a socket's remote address (IPv4-mapped IPv6 included) inside the list? */
export function addressIn(list: BlockList, ip: string | undefined): boolean {
  if (!ip) return false;
  const v4 = ip.toLowerCase().startsWith("::ffff:") ? ip.slice(7) : ip;
  return isIPv4(v4) ? list.check(v4, "ipv4") : isIPv6(ip) ? list.check(ip, "ipv6") : false;
}
