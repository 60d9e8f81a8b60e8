import express, { Router, type NextFunction, type Request, type Response } from "express";
import { timingSafeEqual } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { clientCertificate } from "./client-certificate.js";
import { CaError } from "../shared/ca-error.js";
import { authenticate, type RaApiDeps } from "./ra.routes.js";
import { sha256Hex } from "../shared/digest.js";
import { systemClock } from "../shared/clock.js";
import { cryptoRandom, type Random } from "../shared/random.js";
import { sendJson } from "./validation.js";
import { PORTAL_SESSION } from "./schemas/portal.schemas.js";

const COOKIE = "cardpki_session";

/** A stored session: hashes of its id and CSRF token only (a database dump opens no session). */
export interface SessionRecord {
  readonly csrfHash: string;
  /** The client certificate the session was opened with: every request must come with the same one. */
  readonly credential: string;
  readonly created: number;
  readonly lastSeen: number;
  /** Officers sign in to the portal, card holders to the holder pages; a session serves only routes of its kind. */
  readonly kind: SessionKind;
}

export type SessionKind = "officer" | "holder";

/**
 * Where portal sessions live: memory (one process) or the database (composition's choice: shared by
 * the writer and its standby, so a failover or restart does not sign officers out).
 */
export interface SessionStore {
  put(idHash: string, s: SessionRecord): Promise<void>;
  get(idHash: string): Promise<SessionRecord | undefined>;
  touch(idHash: string, lastSeen: number): Promise<void>;
  delete(idHash: string): Promise<void>;
  /** Removes sessions idle since before `idleBefore` or created before `createdBefore`. */
  deleteExpired(idleBefore: number, createdBefore: number): Promise<void>;
}

export class MemorySessionStore implements SessionStore {
  private readonly m = new Map<string, SessionRecord>();
  async put(idHash: string, s: SessionRecord) {
    this.m.set(idHash, s);
  }
  async get(idHash: string) {
    return this.m.get(idHash);
  }
  async touch(idHash: string, lastSeen: number) {
    const s = this.m.get(idHash);
    if (s && s.lastSeen < lastSeen) this.m.set(idHash, { ...s, lastSeen }); // forward only, as the database store
  }
  async delete(idHash: string) {
    this.m.delete(idHash);
  }
  async deleteExpired(idleBefore: number, createdBefore: number) {
    for (const [k, s] of this.m) if (s.lastSeen < idleBefore || s.created < createdBefore) this.m.delete(k);
  }
}

const sameHash = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** A live session as the guard sees it. */
export interface LiveSession {
  readonly credential: string;
  readonly kind: SessionKind;
  csrfMatches(token: string): boolean;
}

/**
 * Portal sessions: opened only with the officer's client certificate (no passwords), bound to it,
 * idle-timed out (default 15 minutes) and capped (8 hours). The store keeps hashes only.
 */
export class PortalSessions {
  /** lastSeen is written at most this often (a database write per request would be waste). */
  private static readonly TOUCH_MS = 30_000;

  constructor(
    private readonly store: SessionStore = new MemorySessionStore(),
    private readonly idleMs = 15 * 60_000,
    private readonly maxMs = 8 * 3_600_000,
    private readonly now: () => number = () => systemClock.now().getTime(),
    private readonly random: Random = cryptoRandom,
  ) {}

  async open(credential: string, kind: SessionKind = "officer"): Promise<{ id: string; csrf: string }> {
    const t = this.now();
    await this.store.deleteExpired(t - this.idleMs, t - this.maxMs);
    const id = Buffer.from(this.random.bytes(32)).toString("base64url");
    const csrf = Buffer.from(this.random.bytes(32)).toString("base64url");
    await this.store.put(sha256Hex(id), { csrfHash: sha256Hex(csrf), credential, created: t, lastSeen: t, kind });
    return { id, csrf };
  }

  /** The live session for a cookie value, touched; undefined when unknown or expired. */
  async use(id: string): Promise<LiveSession | undefined> {
    const key = sha256Hex(id);
    const s = await this.store.get(key);
    const t = this.now();
    if (!s) return undefined;
    if (t - s.lastSeen > this.idleMs || t - s.created > this.maxMs) {
      await this.store.delete(key);
      return undefined;
    }
    if (t - s.lastSeen >= PortalSessions.TOUCH_MS) await this.store.touch(key, t);
    return { credential: s.credential, kind: s.kind, csrfMatches: (token) => sameHash(sha256Hex(token), s.csrfHash) };
  }

  async close(id: string): Promise<void> {
    await this.store.delete(sha256Hex(id));
  }

  get idleSeconds(): number {
    return Math.round(this.idleMs / 1000);
  }
}

/** The value of a cookie of the request. */
export const cookieOf = (req: Request, name = COOKIE): string | undefined => {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return undefined;
};

/** The serial of the client certificate of the request's TLS connection. */
export const peerSerial = (req: Request): string | undefined => clientCertificate(req.socket as TLSSocket)?.serial;

/**
 * In front of the RA API: a request that carries a portal session cookie must come with the
 * client certificate the session was opened with, within the idle timeout, and (when it changes
 * state) with the session's CSRF token in X-CSRF-Token. Requests without the cookie are API
 * clients and pass unchanged (they still authenticate by client certificate on every route).
 */
export function sessionGuard(sessions: PortalSessions) {
  return (req: Request, res: Response, next: NextFunction) => {
    const id = cookieOf(req);
    // The applicant's routes take no client certificate: an officer's cookie in the same browser is not theirs to
    // judge.
    if (!id || req.path.startsWith("/applicant/")) return next();
    sessions.use(id).then((s) => {
      if (!s)
        return next(
          new CaError("unauthorized", "the portal session has expired; sign in again with your card", undefined, {
            code: "session.expired",
          }),
        );
      if (peerSerial(req) !== s.credential)
        return next(
          new CaError("unauthorized", "the portal session belongs to another client certificate", undefined, {
            code: "session.other-certificate",
          }),
        );
      if (req.method !== "GET" && req.method !== "HEAD") {
        const token = req.headers["x-csrf-token"];
        if (typeof token !== "string" || !s.csrfMatches(token))
          return next(
            new CaError("forbidden", "missing or wrong CSRF token (X-CSRF-Token)", undefined, { code: "session.csrf" }),
          );
      }
      res.locals.sessionKind = s.kind; // the route checks it is of its kind (officer portal or holder pages)
      next();
    }, next);
  };
}

const ASSETS = new Set(["portal.js", "page-kit.js", "portal.css"]);
/** The pages' message catalogues, one per language (served beside the assets, read by page-kit.js). */
const LOCALE_FILE = /^(en|sv|da)\.json$/;

/** GET <assets>/locales/:file: a page catalogue (`en.json`, `sv.json`, `da.json`) from `assetsDir/locales`. */
export function localeAsset(assetsDir: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    const f = String(req.params.file);
    if (!LOCALE_FILE.test(f)) return next(new CaError("not-found", `no catalogue ${f}`));
    res.sendFile(join(assetsDir, "locales", f), { headers: { "content-type": "application/json; charset=utf-8" } });
  };
}
/** No inline script or style, nothing from elsewhere: the portal and the self-service pages. */
export const PORTAL_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' " +
  "data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; " +
  "base-uri 'none'";

/** The officers' portal: static page and assets (no build step, no CDN), and the card-certificate login. */
export function portalRoutes(assetsDir: string, sessions: PortalSessions, deps: RaApiDeps): Router {
  if (!existsSync(join(assetsDir, "index.html")))
    throw new CaError("config", `portal assets not found in ${assetsDir}`);
  const r = Router();
  r.use((_req, res, next) => {
    res.set({ "Content-Security-Policy": PORTAL_CSP, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer" });
    next();
  });
  r.get(["/portal", "/portal/"], (_req, res) => res.sendFile(join(assetsDir, "index.html")));
  r.get("/portal/assets/:file", (req, res, next) => {
    const f = String(req.params.file);
    if (!ASSETS.has(f)) return next(new CaError("not-found", `no asset ${f}`, undefined, { code: "request.no-route" }));
    res.sendFile(join(assetsDir, f));
  });
  r.get("/portal/assets/locales/:file", localeAsset(assetsDir));
  sessionRoutes(r, "/portal/session", "officer", sessions, deps);
  return r;
}

/**
 * Sign-in and sign-out by card: POST opens a session of `kind` bound to the client certificate
 * (authenticated like any API call), DELETE ends it. The officers' portal and the holder pages share it.
 */
export function sessionRoutes(
  r: Router,
  path: string,
  kind: SessionKind,
  sessions: PortalSessions,
  deps: RaApiDeps,
): void {
  r.post(path, express.json({ limit: 1024 }), async (req, res) => {
    // REQ-16: a holder whose card awaits activation signs in to activate it (the routes then allow only that).
    const actor = await authenticate(req, kind, deps, { allowHeldCredential: kind === "holder" });
    const s = await sessions.open(peerSerial(req)!, kind);
    res.cookie(COOKIE, s.id, {
      httpOnly: true,
      secure: true,
      sameSite: "strict",
      path: "/",
      maxAge: sessions.idleSeconds * 1000,
    });
    sendJson(res, 201, PORTAL_SESSION, { csrfToken: s.csrf, idleSeconds: sessions.idleSeconds, me: actor });
  });
  r.delete(path, async (req, res) => {
    const id = cookieOf(req);
    if (id) await sessions.close(id);
    res.clearCookie(COOKIE, { httpOnly: true, secure: true, sameSite: "strict", path: "/" });
    res.status(204).end();
  });
}
