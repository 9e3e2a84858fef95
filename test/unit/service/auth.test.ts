/**
 * Authentication of the API and the dashboard (src/server/auth.ts) over the real HTTP app and a real SQLite job
 * store: the login page and its HttpOnly, SameSite=Strict session cookie, no token in URLs, logout, and the
 * cross-site check on requests that change something (re-run), with and without server.apiToken.
 */
import { startTestApp } from '../../helpers/test-app';

const TOKEN = 'token-for-the-auth-test-0123';
const STUDY = '1.2.826.0.1.3680043.8.498.77';

const serve = (apiToken?: string) => startTestApp({ apiToken });

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe('with server.apiToken', () => {
  let s: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => (s = await serve(TOKEN)));
  afterAll(() => s.close());

  const login = (token: string, headers: Record<string, string> = { Origin: s.base }) =>
    fetch(`${s.base}/login`, { method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers }, body: form({ token, next: '/dashboard/jobs/1' }) });

  test('without credentials: the API answers 401, the dashboard sends the browser to the login page', async () => {
    const api = await fetch(`${s.base}/api/jobs`);
    expect(api.status).toBe(401);
    expect(api.headers.get('www-authenticate')).toMatch(/^Bearer/);
    for (const p of ['/', '/dashboard', '/dashboard/jobs/3']) {
      const r = await fetch(s.base + p, { redirect: 'manual' });
      expect(r.status).toBe(303);
      expect(r.headers.get('location')).toBe(`/login?next=${encodeURIComponent(p)}`);
    }
    const page = await (await fetch(`${s.base}/login?next=/dashboard`)).text();
    expect(page).toMatch(/<form method="post" action="\/login">/);
    expect(page).toMatch(/type="password"/);
    expect(page).not.toContain(TOKEN);
  });

  test('a token in the URL is refused, whatever it is', async () => {
    for (const t of [TOKEN, 'wrong']) {
      const r = await fetch(`${s.base}/dashboard?token=${t}`, { redirect: 'manual' });
      expect(r.status).toBe(400);
      expect(r.headers.get('set-cookie')).toBeNull();
    }
  });

  test('a wrong token gets the login page again, 401, and no cookie', async () => {
    const r = await login('not-the-token');
    expect(r.status).toBe(401);
    expect(r.headers.get('set-cookie')).toBeNull();
    expect(await r.text()).toMatch(/Wrong token/);
  });

  test('login sets an HttpOnly, SameSite=Strict session cookie that opens the dashboard and the API; logout ends it', async () => {
    const r = await login(TOKEN);
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/dashboard/jobs/1');
    const setCookie = r.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^lens_session=[^;]+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=43200$/);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(';')[0];
    const dash = await fetch(`${s.base}/dashboard`, { headers: { Cookie: cookie } });
    expect(dash.status).toBe(200);
    expect(await dash.text()).toContain('action="/logout"');
    expect((await fetch(`${s.base}/api/jobs`, { headers: { Cookie: cookie } })).status).toBe(200);
    // A forged or altered cookie is worth nothing.
    const forged = cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect((await fetch(`${s.base}/api/jobs`, { headers: { Cookie: forged } })).status).toBe(401);

    const out = await fetch(`${s.base}/logout`, { method: 'POST', redirect: 'manual', headers: { Cookie: cookie, Origin: s.base } });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/^lens_session=; .*Max-Age=0/);
    expect((await fetch(`${s.base}/api/jobs`, { headers: { Cookie: cookie } })).status).toBe(401);
  });

  test('a re-run needs authentication, and with the cookie it must come from this server (Origin)', async () => {
    const rerun = (headers: Record<string, string>) => fetch(`${s.base}/api/studies/${STUDY}/rerun`, { method: 'POST', headers });
    expect((await rerun({})).status).toBe(401);
    const cookie = (await login(TOKEN)).headers.get('set-cookie')!.split(';')[0];
    expect((await rerun({ Cookie: cookie, Origin: 'http://evil.example' })).status).toBe(403);
    expect((await rerun({ Cookie: cookie, Origin: 'null' })).status).toBe(403);
    expect((await rerun({ Cookie: cookie })).status).toBe(403);
    expect((await rerun({ Cookie: cookie, Origin: s.base })).status).toBe(202);
    expect((await rerun({ Cookie: cookie, Referer: `${s.base}/dashboard` })).status).toBe(202);
    // API clients with the bearer header are not browsers: no Origin needed.
    expect((await rerun({ Authorization: `Bearer ${TOKEN}` })).status).toBe(202);
    expect((await rerun({ Authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
    // Logging in from another site's form is refused too.
    expect((await login(TOKEN, { Origin: 'http://evil.example' })).status).toBe(403);
  });

  test('the webhook keeps its own secret and /healthz stays open', async () => {
    expect((await fetch(`${s.base}/healthz`)).status).toBe(200);
    const hook = await fetch(`${s.base}/webhook/orthanc`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Lens-Secret': 'hook-secret' }, body: JSON.stringify({ lensProbe: 'probe-1234' }) });
    expect(hook.status).toBe(200);
    expect(await hook.json()).toEqual({ lensProbe: 'probe-1234' });
  });
});

describe('without server.apiToken (loopback only)', () => {
  let s: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => (s = await serve()));
  afterAll(() => s.close());

  test('pages are open and there is no login, but another site cannot make the browser re-run a study', async () => {
    expect((await fetch(`${s.base}/dashboard`)).status).toBe(200);
    expect((await fetch(`${s.base}/login`, { redirect: 'manual' })).status).toBe(303);
    const rerun = (headers: Record<string, string>) => fetch(`${s.base}/api/studies/${STUDY}/rerun`, { method: 'POST', headers });
    expect((await rerun({ Origin: 'http://evil.example' })).status).toBe(403);
    expect((await rerun({ Origin: s.base })).status).toBe(202);
    expect((await rerun({})).status).toBe(202);
  });
});
