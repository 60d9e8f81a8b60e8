/** Profile patterns match the whole value; compiled once per distinct pattern. */
const compiled = new Map<string, RegExp>();

export function compiledPattern(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) compiled.set(pattern, (re = new RegExp(`^(?:${pattern})$`, "u")));
  return re;
}
