import { parseTemplateBody } from "../shared/message-template.js";
import { orderReference } from "../shared/order-reference.js";
import { catalogue } from "./catalogue.js";
import { DEFAULT_LANGUAGE, isLanguage, type Language } from "./languages.js";

/**
 * A notification's subject and body in the recipient's language (locales/<lang>/notifications.json),
 * naming the recipient's organisation (read at send time, like the address) and the order by its
 * short reference, never by its id. A body stored as text (older rows) is sent as it is.
 */
export function notificationWords(
  language: string | undefined,
  stored: { subject: string; body: string },
  recipient: { organisation?: string } = {},
): { subject: string; body: string; language: Language } {
  const lang = isLanguage(language) ? language : DEFAULT_LANGUAGE;
  const t = parseTemplateBody(stored.body);
  if (!t) return { ...stored, language: lang };
  const c = catalogue("notifications");
  const params = {
    link: "none",
    organisation: recipient.organisation?.trim() || "none",
    ...(t.params.orderId ? { reference: orderReference(t.params.orderId) } : {}),
    ...t.params,
  };
  return {
    subject: c.format(lang, `subject.${t.key}`, params) ?? stored.subject,
    body: c.format(lang, `body.${t.key}`, params) ?? stored.body,
    language: lang,
  };
}

/** The fixed lines of a letter in `language`. */
export function letterWords(language: string | undefined, id: string): { secretNote: string; reference: string } {
  const lang = isLanguage(language) ? language : DEFAULT_LANGUAGE;
  const c = catalogue("notifications");
  return { secretNote: c.format(lang, "letter.secret-note")!, reference: c.format(lang, "letter.reference", { id })! };
}
