import { AxeBuilder } from "@axe-core/playwright";
import type { Page } from "playwright-core";

// Browser globals inside page.evaluate() callbacks (run in the page; this project compiles without the DOM lib).
declare const document: any, window: any, getComputedStyle: any;
type HTMLElement = any;
type Element = any;
type HTMLInputElement = any;

/** The pages' languages (contract: en, sv, da). */
export const LANGS = ["en", "sv", "da"] as const;
export type Lang = (typeof LANGS)[number];

/** WCAG 2.1 level A and AA rules of axe-core. */
const WCAG21AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/**
 * axe-core's serious and critical WCAG 2.1 A/AA violations on the page as it is now (each with its rule, help text and
 * first nodes).
 */
export async function axeViolations(page: Page): Promise<string[]> {
  const r = await new AxeBuilder({ page }).withTags(WCAG21AA).analyze();
  return r.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map(
      (v) =>
        `${v.impact} ${v.id} (${v.help}): ${v.nodes
          .slice(0, 3)
          .map((n) => `${n.target.join(" ")} ${n.failureSummary ?? ""}`.trim())
          .join(" | ")}`,
    );
}

/**
 * What a person reads on the page: the body's rendered text (hidden elements left out), without the
 * machine text the page shows for a card client to sign (`[data-machine]`, e.g. the activation text).
 */
export async function readableText(page: Page): Promise<string> {
  return page.evaluate(() => {
    let text = document.body.innerText;
    for (const m of document.querySelectorAll("[data-machine]"))
      text = text.split((m as HTMLElement).innerText).join(" ");
    return text;
  });
}

/**
 * Internal names that must never reach a person: hex ids, state and workflow ids, event types, reason codes, server
 * paths, unfilled placeholders.
 */
const ORDER_STATES = [
  "REQUESTED",
  "TERMS_ACCEPTED",
  "IDENTIFIED",
  "APPROVED",
  "IN_PRODUCTION",
  "PRODUCING",
  "PRODUCED",
  "HANDED_OUT",
  "REJECTED",
  "CANCELLED",
  "EXPIRED",
];
const INTERNAL: readonly [string, RegExp][] = [
  // 8+ hex digits with a letter and a digit among them: ids and hashes (all-digit runs are phone numbers, national IDs,
  // organisation numbers).
  ["a raw hex id", /\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{8,}\b/],
  ["a state name", new RegExp(`\\b(${ORDER_STATES.join("|")})\\b|\\bACTIVE\\b`)],
  ["a workflow id", /\bloa[23]-card-order(-kba)?\b/],
  ["an audit event type", /\b(order|cert|card|revocation|notification|person|officer)\.[a-z-]+(\.[a-z-]+)?\b/],
  ["a reason code", /\b(certificateHold|keyCompromise|affiliationChanged|cessationOfOperation|removeFromCRL)\b/],
  ["a server path", /(^|[\s(:'"])(\/work|\/tmp|\/var|\/home|\/usr\/(?!lib\/x86_64))|\bdist\//],
  ["an unfilled placeholder or a script value", /\{[a-zA-Z]+\}|\bundefined\b|\[object |\bNaN\b/],
];

/** Each internal name found in `text`, with what it is. */
export function internalNames(text: string): string[] {
  const out: string[] = [];
  for (const [what, re] of INTERNAL) {
    const m = new RegExp(re.source, re.flags.includes("g") ? re.flags : `${re.flags}g`);
    for (const x of text.matchAll(m))
      out.push(
        `${what}: ${JSON.stringify(x[0].trim())} in ` +
          `…${text.slice(Math.max(0, (x.index ?? 0) - 40), (x.index ?? 0) + 40).replace(/\s+/g, " ")}…`,
      );
  }
  return out;
}

/**
 * WCAG 1.4.10 at 320 CSS px: no horizontal scrolling (scrollWidth ≤ clientWidth) and nothing cut
 * off: no visible element reaching past the viewport's edges, no text clipped by its box (except
 * inside a box that scrolls on purpose, such as the terms of use). The viewport is put back after.
 */
export async function reflowProblems(page: Page): Promise<string[]> {
  const before = page.viewportSize() ?? { width: 1280, height: 900 };
  await page.setViewportSize({ width: 320, height: 720 });
  try {
    await page.waitForTimeout(50);
    return await page.evaluate(() => {
      const problems: string[] = [];
      const root = document.documentElement;
      if (root.scrollWidth > root.clientWidth)
        problems.push(`the page scrolls sideways: scrollWidth ${root.scrollWidth} > clientWidth ${root.clientWidth}`);
      const width = root.clientWidth;
      const name = (el: Element) => {
        const cls = el.className && typeof el.className === "string" ? `.${el.className.split(" ").join(".")}` : "";
        const text = (el.textContent ?? "").trim().slice(0, 40);
        return `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${cls} "${text}"`;
      };
      const scrollsOnPurpose = (el: Element) => {
        for (let p: Element | null = el.parentElement; p; p = p.parentElement) {
          const s = getComputedStyle(p);
          if (/(auto|scroll)/.test(s.overflowY) && p !== document.body && p !== root) return true;
        }
        return false;
      };
      // Visually hidden on purpose (the table headings a narrow screen shows beside each value): clipped to 1px.
      const visuallyHidden = (el: Element) => {
        for (let p: Element | null = el; p && p !== document.body; p = p.parentElement) {
          const s = getComputedStyle(p);
          if (s.clip !== "auto" && s.position === "absolute") return true;
        }
        return false;
      };
      for (const el of document.body.querySelectorAll("*")) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0 || visuallyHidden(el)) continue;
        const s = getComputedStyle(el);
        // the skip link waits off-screen until focused
        if (s.visibility === "hidden" || (s.position === "absolute" && (r.right < 0 || r.left < -1000))) continue;
        if (scrollsOnPurpose(el)) continue;
        if (r.right > width + 1 || r.left < -1)
          problems.push(
            `${name(el)} reaches past the viewport (${Math.round(r.left)}..${Math.round(r.right)} of ${width})`,
          );
        if (
          /(hidden|clip)/.test(s.overflowX) &&
          el.scrollWidth > el.clientWidth + 1 &&
          !["SELECT", "INPUT", "TEXTAREA"].includes(el.tagName)
        )
          problems.push(`${name(el)} cuts off its content (${el.scrollWidth} > ${el.clientWidth})`);
      }
      return problems.slice(0, 10);
    });
  } finally {
    await page.setViewportSize(before);
  }
}

/**
 * WCAG 2.4.7 / 1.4.11: for the first `stops` keyboard focus stops (Tab from the top of the page),
 * the focus ring is drawn (outline of at least 2px) and has at least 3:1 contrast against the
 * background it is drawn on (the nearest ancestor's background colour: the ring sits outside the
 * element). Returns the problems and the focused elements' contrasts.
 */
/**
 * Puts the keyboard's starting point at the top of the document: the next Tab reaches the page's first focusable
 * element.
 */
export async function fromTheTop(page: Page): Promise<void> {
  await page.evaluate(() => {
    const b = document.body;
    b.setAttribute("tabindex", "-1");
    b.focus();
    b.removeAttribute("tabindex");
    window.scrollTo(0, 0);
  });
}

export async function focusRingProblems(
  page: Page,
  stops = 6,
): Promise<{ problems: string[]; checked: { what: string; ratio: number }[] }> {
  await fromTheTop(page);
  const problems: string[] = [];
  const checked: { what: string; ratio: number }[] = [];
  for (let i = 0; i < stops; i++) {
    await page.keyboard.press("Tab");
    const r = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return null;
      const rgb = (c: string) => {
        const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/.exec(c);
        return m ? { r: +m[1]!, g: +m[2]!, b: +m[3]!, a: m[4] === undefined ? 1 : +m[4] } : { r: 0, g: 0, b: 0, a: 0 };
      };
      const lum = (c: { r: number; g: number; b: number }) => {
        const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
      };
      const s = getComputedStyle(el);
      let bg = { r: 255, g: 255, b: 255, a: 1 };
      for (
        let p: HTMLElement | null = Number.parseFloat(s.outlineOffset) >= 0 ? el.parentElement : el;
        p;
        p = p.parentElement
      ) {
        const c = rgb(getComputedStyle(p).backgroundColor);
        if (c.a > 0) {
          bg = c;
          break;
        }
      }
      const ring = rgb(s.outlineColor);
      const [a, b] = [lum(ring), lum(bg)];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      return {
        what:
          `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""} ` +
          `"${(el.textContent || (el as HTMLInputElement).name || "").trim().slice(0, 30)}"`,
        style: s.outlineStyle,
        width: Number.parseFloat(s.outlineWidth),
        ratio,
        ring: s.outlineColor,
      };
    });
    if (!r) continue;
    checked.push({ what: r.what, ratio: Math.round(r.ratio * 100) / 100 });
    if (r.style === "none" || r.width < 2)
      problems.push(`${r.what}: no visible focus ring (outline ${r.style} ${r.width}px)`);
    else if (r.ratio < 3)
      problems.push(`${r.what}: focus ring ${r.ring} has ${r.ratio.toFixed(2)}:1 against its background (needs 3:1)`);
  }
  return { problems, checked };
}
