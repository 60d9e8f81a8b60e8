import express, { Router, type NextFunction, type Request, type Response } from "express";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { X509Certificate } from "node:crypto";
import { CaError } from "../shared/ca-error.js";
import type { Actor } from "../ra/order.js";
import { authenticate, type RaApiDeps } from "./ra.routes.js";

const COOKIE = "cardpki_session";

interface Session {
  readonly id: string;
  readonly csrf: string;
  /** The client certificate the session was opened with: every request must come with the same one. */
  readonly credential: string;
  readonly actor: Actor;
  readonly created: number;
  lastSeen: number;
}

/**
 * Portal sessions: opened only with the officer's client certificate (no passwords), bound to it,
 * idle-timed out (default 15 minutes) and capped (8 hours). Kept in memory: a restart logs everyone out.
 */
export class PortalSessions {
  private readonly sessions = new Map<string, Session>();
  constructor(private readonly idleMs = 15 * 60_000, private readonly maxMs = 8 * 3_600_000, private readonly now: () => number = Date.now) {}

  open(actor: Actor, credential: string): Session {
    const t = this.now();
    for (const [k, s] of this.sessions) if (t - s.lastSeen > this.idleMs || t - s.created > this.maxMs) this.sessions.delete(k);
    const s: Session = { id: randomBytes(32).toString("base64url"), csrf: randomBytes(32).toString("base64url"), credential, actor, created: t, lastSeen: t };
    this.sessions.set(s.id, s);
    return s;
  }

  /** The live session for a cookie value, touched; undefined when unknown or expired. */
  use(id: string): Session | undefined {
    const s = this.sessions.get(id);
    const t = this.now();
    if (!s) return undefined;
    if (t - s.lastSeen > this.idleMs || t - s.created > this.maxMs) {
      this.sessions.delete(id);
      return undefined;
    }
    s.lastSeen = t;
    return s;
  }

  close(id: string): void {
    this.sessions.delete(id);
  }

  get idleSeconds(): number {
    return Math.round(this.idleMs / 1000);
  }
}

const cookieOf = (req: Request): string | undefined => {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === COOKIE) return v.join("=");
  }
  return undefined;
};

const peerSerial = (req: Request): string | undefined => {
  const raw = (req.socket as TLSSocket).getPeerCertificate?.(false)?.raw;
  return raw ? new X509Certificate(raw).serialNumber.toLowerCase() : undefined;
};

const sameToken = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * In front of the RA API: a request that carries a portal session cookie must come with the
 * client certificate the session was opened with, within the idle timeout, and (when it changes
 * state) with the session's CSRF token in X-CSRF-Token. Requests without the cookie are API
 * clients and pass unchanged (they still authenticate by client certificate on every route).
 */
export function sessionGuard(sessions: PortalSessions) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const id = cookieOf(req);
    if (!id) return next();
    const s = sessions.use(id);
    if (!s) return next(new CaError("unauthorized", "the portal session has expired; sign in again with your card"));
    if (peerSerial(req) !== s.credential) return next(new CaError("unauthorized", "the portal session belongs to another client certificate"));
    if (req.method !== "GET" && req.method !== "HEAD") {
      const token = req.headers["x-csrf-token"];
      if (typeof token !== "string" || !sameToken(token, s.csrf)) return next(new CaError("forbidden", "missing or wrong CSRF token (X-CSRF-Token)"));
    }
    next();
  };
}

const ASSETS = new Set(["portal.js", "portal.css"]);
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/** The officers' portal: static page and assets (no build step, no CDN), and the card-certificate login. */
export function portalRoutes(assetsDir: string, sessions: PortalSessions, deps: RaApiDeps): Router {
  if (!existsSync(join(assetsDir, "index.html"))) throw new CaError("config", `portal assets not found in ${assetsDir}`);
  const r = Router();
  r.use((_req, res, next) => {
    res.set({ "Content-Security-Policy": CSP, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer" });
    next();
  });
  r.get(["/portal", "/portal/"], (_req, res) => res.sendFile(join(assetsDir, "index.html")));
  r.get("/portal/assets/:file", (req, res, next) => {
    const f = String(req.params.file);
    if (!ASSETS.has(f)) return next(new CaError("not-found", `no asset ${f}`));
    res.sendFile(join(assetsDir, f));
  });
  r.post("/portal/session", express.json({ limit: 1024 }), async (req, res) => {
    const actor = await authenticate(req, "officer", deps);
    const s = sessions.open(actor, peerSerial(req)!);
    res.cookie(COOKIE, s.id, { httpOnly: true, secure: true, sameSite: "strict", path: "/", maxAge: sessions.idleSeconds * 1000 });
    res.status(201).json({ csrfToken: s.csrf, idleSeconds: sessions.idleSeconds, me: actor });
  });
  r.delete("/portal/session", (req, res) => {
    const id = cookieOf(req);
    if (id) sessions.close(id);
    res.clearCookie(COOKIE, { httpOnly: true, secure: true, sameSite: "strict", path: "/" });
    res.status(204).end();
  });
  return r;
}
