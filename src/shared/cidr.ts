import { BlockList, isIP, isIPv4 } from "node:net";
import { CaError } from "./ca-error.js";

/** Parses a CIDR list (REQ-23 allow-lists); anything that is not an IPv4/IPv6 network is invalid-input. */
export function parseCidrs(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits, extra] = c.split("/");
    const family = addr ? isIP(addr) : 0;
    const n = Number(bits);
    if (!family || extra !== undefined || bits === undefined || !Number.isInteger(n) || n < 0 || n > (family === 4 ? 32 : 128))
      throw new CaError("invalid-input", `'${c}' is not an IPv4 or IPv6 network in CIDR form`);
    list.addSubnet(addr!, n, family === 4 ? "ipv4" : "ipv6");
  }
  return list;
}

/** Is a socket's remote address (IPv4-mapped IPv6 included) inside the list? */
export function addressIn(list: BlockList, ip: string | undefined): boolean {
  if (!ip) return false;
  const v4 = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
  return isIPv4(v4) ? list.check(v4, "ipv4") : list.check(ip, "ipv6");
}
