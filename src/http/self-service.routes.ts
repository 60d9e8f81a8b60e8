import { Router } from "express";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CaError } from "../shared/ca-error.js";
import type { RaApiDeps } from "./ra.routes.js";
import { PORTAL_CSP, localeAsset, sessionRoutes, type PortalSessions } from "./portal.routes.js";

const PAGES = {
  applicant: { html: "applicant.html", assets: new Set(["applicant.js", "page-kit.js", "portal.css"]) },
  holder: { html: "holder.html", assets: new Set(["holder.js", "page-kit.js", "portal.css"]) },
} as const;

/**
 * The applicant pages (`/applicant/`, no client certificate: the link's single-use token opens a
 * session) and the holder pages (`/holder/`, sign-in with the card's client certificate, a portal
 * session of kind holder): plain HTML, one ES module each and the portal's stylesheet, no build
 * step, no CDN, the portal's strict Content-Security-Policy (no inline script).
 */
export function selfServicePages(assetsDir: string, sessions: PortalSessions, deps: RaApiDeps): Router {
  for (const p of Object.values(PAGES))
    if (!existsSync(join(assetsDir, p.html)))
      throw new CaError("config", `self-service page ${p.html} not found in ${assetsDir}`);
  const r = Router();
  r.use(["/applicant", "/holder"], (_req, res, next) => {
    res.set({ "Content-Security-Policy": PORTAL_CSP, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer" });
    next();
  });
  for (const [name, p] of Object.entries(PAGES)) {
    r.get([`/${name}`, `/${name}/`], (_req, res) => res.sendFile(join(assetsDir, p.html)));
    r.get(`/${name}/assets/:file`, (req, res, next) => {
      const f = String(req.params.file);
      if (!(p.assets as ReadonlySet<string>).has(f))
        return next(new CaError("not-found", `no asset ${f}`, undefined, { code: "request.no-route" }));
      res.sendFile(join(assetsDir, f));
    });
    r.get(`/${name}/assets/locales/:file`, localeAsset(assetsDir));
  }
  sessionRoutes(r, "/holder/session", "holder", sessions, deps);
  return r;
}
