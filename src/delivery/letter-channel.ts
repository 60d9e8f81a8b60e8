import { letterWords } from "../i18n/notification-words.js";
import PDFDocument from "pdfkit";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DeliveryChannel, OutgoingMessage } from "./ports.js";

export interface LetterSettings {
  /** The print spool: one PDF per letter, picked up by the print shop's process. */
  readonly spoolDir: string;
  /** The sender's lines in the letterhead (and the return address). */
  readonly sender?: string;
}

/**
 * The file a letter is written to: the same name each time it is sent, so a retry replaces it (one file per letter).
 */
export function letterFileName(m: Pick<OutgoingMessage, "id" | "createdAt">): string {
  return `${m.createdAt.toISOString().replace(/[:.]/g, "").replace(/-/g, "")}-${m.id}.pdf`;
}

/** The letter as a PDF (A4, address placed for a C5/DL window envelope, the standard Helvetica font). */
export function renderLetter(m: OutgoingMessage, sender: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({
      size: "A4",
      margin: 56,
      info: { Title: m.subject, Author: sender.split("\n")[0]!, Producer: "cardpki", CreationDate: m.createdAt },
    });
    const chunks: Buffer[] = [];
    doc.on("data", (c: Buffer) => chunks.push(c));
    doc.on("end", () => resolve(Buffer.concat(chunks)));
    doc.on("error", reject);
    doc.font("Helvetica").fontSize(9).text(sender.split("\n").join(" · "), 56, 56);
    doc.fontSize(11).text([m.to.name, ...m.to.address.split("\n")].join("\n"), 70, 140, { width: 240 });
    doc.fontSize(10).text(m.createdAt.toISOString().slice(0, 10), 56, 260, { align: "right" });
    doc.font("Helvetica-Bold").fontSize(13).text(m.subject, 56, 300);
    doc.moveDown().font("Helvetica").fontSize(11).text(m.body, { width: 480 });
    const words = letterWords(m.language, m.id);
    if (m.kind !== "notice") doc.moveDown(2).fontSize(9).fillColor("#444").text(words.secretNote, { width: 480 });
    doc.fontSize(8).fillColor("#666").text(words.reference, 56, 780);
    doc.end();
  });
}

/**
 * Postal letters (REQ-15, LoA2 by mail): each letter becomes a PDF print file in the spool
 * folder, readable by its owner only; written under a temporary name and renamed, so the print
 * process never picks up half a letter, and a letter sent again replaces its own file.
 */
export function letterChannel(s: LetterSettings): DeliveryChannel {
  const sender = s.sender ?? "cardpki";
  return {
    name: "mail",
    description: `letters as PDF print files in ${s.spoolDir}`,
    async send(m: OutgoingMessage) {
      const pdf = await renderLetter(m, sender);
      mkdirSync(s.spoolDir, { recursive: true, mode: 0o700 });
      const file = join(s.spoolDir, letterFileName(m));
      writeFileSync(`${file}.part`, pdf, { mode: 0o600 });
      renameSync(`${file}.part`, file);
    },
  };
}
