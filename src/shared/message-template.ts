/**
 * A notification stored as its template and facts, written in the recipient's language when it is
 * sent (src/delivery renders it with src/i18n): the person's language is read at send time, like
 * their address. Sealed at rest like any body; the facts (a token, a PIN) are wiped once delivered.
 */
export interface MessageTemplate {
  /** A key of locales/<lang>/notifications.json without its section: `terms-link`, `initial-pin.transport`... */
  readonly key: string;
  readonly params: Readonly<Record<string, string>>;
}

const PREFIX = "cardpki-message:v1:";

export function templateBody(key: string, params: Readonly<Record<string, string>>): string {
  return PREFIX + JSON.stringify({ key, params });
}

/** The template a stored body holds, or undefined for a body written as text (older rows, tests). */
export function parseTemplateBody(body: string): MessageTemplate | undefined {
  if (!body.startsWith(PREFIX)) return undefined;
  try {
    const v = JSON.parse(body.slice(PREFIX.length)) as MessageTemplate;
    return typeof v?.key === "string" && v.params && typeof v.params === "object" ? v : undefined;
  } catch {
    return undefined;
  }
}
