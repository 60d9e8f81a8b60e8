/** REQ-01: the address's domain is a validated domain or a subdomain of one (case-insensitive). */
export function emailWithinDomains(email: string, domains: readonly string[]): boolean {
  const at = email.lastIndexOf("@");
  if (at < 1) return false;
  const host = email
    .slice(at + 1)
    .toLowerCase()
    .replace(/\.$/, "");
  return domains.some((d) => {
    const v = d.toLowerCase().replace(/\.$/, "");
    return v.length > 0 && (host === v || host.endsWith(`.${v}`));
  });
}
