/**
 * Authentication of the REST API and the dashboard (server.apiToken). API clients send `Authorization: Bearer
 * <token>`; a browser logs in once on /login and then carries a session cookie (HttpOnly, SameSite=Strict): the
 * token never appears in a URL, where history, proxies and logs would keep it. Requests that change something
 * (POST and the like) must come from the service's own pages (Origin check) when a browser sends them.
 *
 * Sessions are signed, not stored: every node sharing the token accepts them, and a restart keeps them. Changing
 * the token ends every session; logout ends the session on this node (the cookie is cleared in the browser too).
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { log } from '../log';

export interface AuthOptions {
  /** Without a token there is no login (only loopback listeners may run so: src/config/service-requirements.ts). */
  apiToken?: string;
  /** How long a login lasts. */
  sessionHours?: number;
}

export const SESSION_COOKIE = 'lens_session';
const DEFAULT_SESSION_HOURS = 12;
/** A wrong token on /login costs this long: guessing stays slow even before the token's length does its part. */
const LOGIN_FAILURE_DELAY_MS = 400;

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function bearer(req: Request): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7) : undefined;
}

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Where to go after login: a path on this server only (never `//other.host` or a URL). */
function localPath(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])[^\s\\]*$/.test(next) ? next : '/dashboard';
}

function loginPage(next: string, error?: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>lens-pacs: log in</title>
<style>body{font-family:system-ui,sans-serif;margin:4em auto;max-width:24em;color:#1f2328}input,button{font-size:16px;padding:.4em;width:100%;box-sizing:border-box;margin:.3em 0}
.error{color:#cf222e}</style></head><body><h1>lens-pacs</h1>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}<form method="post" action="/login">
<label for="token">API token (server.apiToken)</label><input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="${esc(next)}"><button type="submit">Log in</button></form></body></html>`;
}

/** The log-out button for pages shown to a logged-in browser. */
const LOGOUT_FORM =
  '<form method="post" action="/logout" style="float:right;margin:0"><button type="submit" class="logout">Log out</button></form>';

/** Adds the log-out button to a dashboard page when the browser came with a session. */
export function withLogout(html: string, res: Response): string {
  return res.locals.lensSession ? html.replace('<body>', `<body>${LOGOUT_FORM}`) : html;
}

class Sessions {
  /** Nonces of sessions logged out on this node, until they would have expired anyway. */
  private readonly ended = new Map<string, number>();
  constructor(
    private readonly key: Buffer,
    private readonly ttlMs: number,
  ) {}

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }

  issue(now = Date.now()): { value: string; maxAgeSeconds: number } {
    const body = `${now + this.ttlMs}.${randomBytes(16).toString('base64url')}`;
    return { value: `${body}.${this.sign(body)}`, maxAgeSeconds: Math.floor(this.ttlMs / 1000) };
  }

  /** The session's nonce when the cookie is one of ours, unexpired and not logged out. */
  check(value: string | undefined, now = Date.now()): string | undefined {
    const m = value && /^(\d+)\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (!m || !safeEqual(m[3], this.sign(`${m[1]}.${m[2]}`))) return undefined;
    if (Number(m[1]) <= now || this.ended.has(m[2])) return undefined;
    return m[2];
  }

  end(value: string | undefined, now = Date.now()): void {
    const nonce = this.check(value, now);
    if (!nonce || !value) return;
    this.ended.set(nonce, Number(value.split('.')[0]));
    for (const [n, exp] of this.ended) if (exp <= now) this.ended.delete(n);
  }
}

function sessionCookie(req: Request, value: string, maxAgeSeconds: number): string {
  // Secure when the browser reached us over TLS (directly or through a proxy that says so).
  const tls = req.secure || req.headers['x-forwarded-proto'] === 'https';
  return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeSeconds}${tls ? '; Secure' : ''}`;
}

/**
 * Whether a request may change something on behalf of whoever sent it. A browser names the page a POST comes from
 * (Origin, or at least Referer): it must be a page of this server, as a page elsewhere cannot forge these headers
 * (nor add X-Forwarded-Host without a CORS preflight this server never grants). A request naming no page is not
 * from a browser form or script, unless it carries the session cookie, which only browsers hold.
 */
function fromOwnPage(req: Request, viaSession: boolean): boolean {
  const from = req.headers.origin ?? req.headers.referer;
  if (!from) return !viaSession;
  let host: string;
  try {
    host = new URL(from).host;
  } catch {
    return false; // 'null' (sandboxed or privacy-stripped origins) included
  }
  const forwarded = req.headers['x-forwarded-host'];
  return [req.headers.host, ...(typeof forwarded === 'string' ? forwarded.split(',').map((h) => h.trim()) : [])].includes(host);
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Adds /login and /logout and, for every route registered after it, the authentication and the cross-site
 * request check. Routes registered before (the webhook with its own secret, /healthz) stay open.
 */
export function installAuth(app: Express, o: AuthOptions): void {
  const token = o.apiToken;
  const sessions = token
    ? new Sessions(createHmac('sha256', 'lens-pacs session key v1').update(token).digest(), (o.sessionHours ?? DEFAULT_SESSION_HOURS) * 3600_000)
    : undefined;
  const form = express.urlencoded({ extended: false, limit: '4kb' });

  app.get('/login', (req, res) => {
    if (!sessions) return void res.redirect(303, '/dashboard');
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(loginPage(localPath(req.query.next)));
  });

  app.post('/login', form, (req: Request, res: Response) => {
    if (!sessions || !token) return void res.redirect(303, '/dashboard');
    if (!fromOwnPage(req, false)) return void res.status(403).json({ error: 'log in from the login page of this server' });
    const body = (req.body ?? {}) as { token?: unknown; next?: unknown };
    const next = localPath(body.next);
    if (typeof body.token !== 'string' || !safeEqual(body.token, token)) {
      log.warn('login with a wrong token', { ip: req.ip });
      return void setTimeout(() => res.status(401).type('html').send(loginPage(next, 'Wrong token.')), LOGIN_FAILURE_DELAY_MS);
    }
    const s = sessions.issue();
    res.setHeader('Set-Cookie', sessionCookie(req, s.value, s.maxAgeSeconds));
    log.info('login', { ip: req.ip });
    res.redirect(303, next);
  });

  app.post('/logout', (req, res) => {
    if (!fromOwnPage(req, true)) return void res.status(403).json({ error: 'log out from a page of this server' });
    sessions?.end(cookie(req, SESSION_COOKIE));
    res.setHeader('Set-Cookie', sessionCookie(req, '', 0));
    res.redirect(303, sessions ? '/login' : '/dashboard');
  });

  app.use((req: Request, res: Response, next: NextFunction) => {
    if (typeof req.query.token === 'string')
      return void res.status(400).json({ error: 'tokens in URLs are not accepted (they end up in histories and logs): log in on /login, or send Authorization: Bearer <token>' });
    const viaHeader = !!token && !!bearer(req) && safeEqual(bearer(req)!, token);
    const viaSession = !!sessions?.check(cookie(req, SESSION_COOKIE));
    if (viaSession) res.locals.lensSession = true;
    // A browser sends its cookies (and reaches a loopback service without a token) whichever page posts: changes
    // must come from this server's pages. A bearer header is never added by a browser on its own.
    if (UNSAFE.has(req.method) && !viaHeader && !fromOwnPage(req, viaSession))
      return void res.status(403).json({ error: 'cross-site request refused: send it from the dashboard, or with Authorization: Bearer <token>' });
    if (!token || viaHeader || viaSession) return next();
    if ((req.method === 'GET' || req.method === 'HEAD') && (req.path === '/' || req.path === '/dashboard' || req.path.startsWith('/dashboard/')))
      return void res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
    res.setHeader('WWW-Authenticate', 'Bearer realm="lens-pacs"');
    res.status(401).json({ error: 'authentication required (server.apiToken): Authorization: Bearer <token>, or log in on /login' });
  });
}
