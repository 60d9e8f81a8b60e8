import type { Lint } from "./lint.js";

const DAY = 86_400_000;

export const validityLints: Lint[] = [
  {
    id: "validity_ordered",
    citation: "RFC 5280 4.1.2.5",
    check: ({ tbs }) =>
      tbs.notBefore.date.getTime() >= tbs.notAfter.date.getTime() ? "notBefore is not before notAfter" : undefined,
  },
  {
    id: "validity_time_encoding",
    citation: "RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050",
    check: ({ tbs }) => {
      for (const [name, t] of [
        ["notBefore", tbs.notBefore],
        ["notAfter", tbs.notAfter],
      ] as const) {
        const year = t.date.getUTCFullYear();
        if (year < 2050 && t.tag !== 0x17) return `${name} in ${year} must be UTCTime`;
        if (year >= 2050 && t.tag !== 0x18) return `${name} in ${year} must be GeneralizedTime`;
      }
      return undefined;
    },
  },
  {
    id: "validity_within_profile",
    citation: "CPS 6.3.2 (profile validity.days)",
    check: ({ tbs, profile }) => {
      const span = tbs.notAfter.date.getTime() - tbs.notBefore.date.getTime();
      return span > profile.validity.days * DAY
        ? `validity of ${(span / DAY).toFixed(1)} days exceeds the profile's ${profile.validity.days}`
        : undefined;
    },
  },
  {
    id: "validity_within_issuer",
    citation: "CPS 6.3.2: no certificate outlives its issuer",
    check: ({ tbs, issuer, selfSigned }) =>
      !selfSigned && tbs.notAfter.date > issuer.notAfter ? "notAfter is after the issuer's notAfter" : undefined,
  },
];
