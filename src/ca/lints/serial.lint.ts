import type { Lint } from "./lint.js";

export const serialLints: Lint[] = [
  {
    id: "serial_positive_max_20_octets",
    citation: "RFC 5280 4.1.2.2",
    check: ({ tbs }) => {
      const s = tbs.serial;
      if (s.length === 0 || s.length > 20) return `serial has ${s.length} octets`;
      if ((s[0]! & 0x80) !== 0) return "serial is negative";
      if (s.every((b) => b === 0)) return "serial is zero";
      if (s.length > 1 && s[0] === 0 && (s[1]! & 0x80) === 0) return "serial is not minimally encoded";
      return undefined;
    },
  },
  {
    id: "serial_at_least_64_random_bits",
    citation: "design: serials >= 64 bits from a CSPRNG (we use 128); CA/B BR 7.1",
    check: ({ tbs }) =>
      tbs.serial.length < 17 ? `serial of ${tbs.serial.length} octets carries < 128 random bits` : undefined,
  },
  {
    id: "version_3",
    citation: "RFC 5280 4.1.2.1: extensions present, so v3",
    check: ({ tbs }) => (tbs.version !== 3 ? `version ${tbs.version}` : undefined),
  },
];
