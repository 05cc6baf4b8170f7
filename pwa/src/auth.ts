// The staff session: kept in IndexedDB (the service worker replays a crew's changes too, and it
// has no localStorage), refreshed before the access token runs out and once more on a 401.
// A refresh token works once, and presenting a used one again revokes the whole session: so
// refreshing is serialized across tabs and the service worker with a Web Lock, and whoever
// gets the lock first re-reads what another context may have stored meanwhile.
//
// No DOM here.
import {
  addJobPhotos,
  login,
  logout,
  postJobAction,
  refreshSession,
  type Job,
  type Me,
  type Outcome,
  type Photo,
  type Problem,
  type Session,
} from './api';
import {
  deleteMeta,
  forgetCrewData,
  getMeta,
  resumeSignedOut,
  setJobSender,
  setMeta,
  type JobItem,
} from './outbox';

const KEY = 'session';
const LOCK = 'signalons-auth';
/** Refresh this long before the access token expires, so a request does not meet its end. */
const MARGIN_MS = 30_000;

export interface StoredSession {
  accessToken: string;
  /** Epoch milliseconds. */
  accessExpiresAt: number;
  refreshToken: string;
  refreshExpiresAt: string;
  user: Me;
}

export function toStored(session: Session, now: number = Date.now()): StoredSession {
  return {
    accessToken: session.access_token,
    accessExpiresAt: now + session.expires_in * 1000,
    refreshToken: session.refresh_token,
    refreshExpiresAt: session.refresh_expires_at,
    user: session.user,
  };
}

/** Whether the access token should be renewed before use. */
export function needsRefresh(session: StoredSession, now: number = Date.now()): boolean {
  return session.accessExpiresAt - MARGIN_MS <= now;
}

/** Whether the session cannot be renewed any more (its refresh token is past its date). */
export function isExpired(session: StoredSession, now: number = Date.now()): boolean {
  const end = Date.parse(session.refreshExpiresAt);
  return Number.isFinite(end) && end <= now;
}

export const STAFF_ROLES: readonly Me['role'][] = ['crew', 'dispatcher', 'admin'];

type Listener = () => void;
const listeners = new Set<Listener>();
export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
const changed = () => listeners.forEach((l) => l());

export async function getSession(): Promise<StoredSession | null> {
  const session = (await getMeta<StoredSession>(KEY)) ?? null;
  return session && !isExpired(session) ? session : null;
}

async function save(session: StoredSession | null): Promise<void> {
  if (session) await setMeta(KEY, session);
  else await deleteMeta(KEY);
  changed();
}

export const signedOutProblem = (): Problem => ({
  type: 'urn:signalons:problem:signed_out',
  title: 'Signed out',
  status: 401,
  detail: 'sign in again to send it',
  code: 'signed_out',
});

export type SignInResult = { ok: true; user: Me } | { ok: false; problem: Problem };

/** Signs in; accounts that are not staff are refused here (the crew screens are for staff). */
export async function signIn(email: string, password: string): Promise<SignInResult> {
  const result = await login(email, password);
  if (!result.ok) return { ok: false, problem: result.problem };
  if (!STAFF_ROLES.includes(result.data.user.role)) {
    await logout(result.data.refresh_token).catch(() => {});
    return {
      ok: false,
      problem: {
        type: 'urn:signalons:problem:not_staff',
        title: 'Not staff',
        status: 403,
        detail: 'this account is not a staff account',
        code: 'not_staff',
      },
    };
  }
  await save(toStored(result.data));
  // Changes refused while signed out can go now.
  await resumeSignedOut();
  return { ok: true, user: result.data.user };
}

/** Signs out here and on the server; the crew's cached jobs and unsent changes are dropped. */
export async function signOut(): Promise<void> {
  const session = await getSession();
  await save(null);
  await forgetCrewData();
  await setMeta('queue', null);
  if (session) await logout(session.refreshToken).catch(() => {});
}

function locked<T>(task: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  return locks ? (locks.request(LOCK, task) as Promise<T>) : task();
}

/**
 * A usable access token: the stored one, or a renewed one when it is about to expire or when
 * `rejected` (the token a 401 answered) is still the stored one. Null when signed out.
 * Network failures throw.
 */
export function accessToken(rejected?: string): Promise<string | null> {
  return locked(async () => {
    const session = await getSession();
    if (!session) return null;
    const stale = rejected !== undefined && session.accessToken === rejected;
    if (!stale && !needsRefresh(session)) return session.accessToken;
    const renewed = await refreshSession(session.refreshToken);
    if (renewed.ok) {
      const next = toStored(renewed.data);
      await save(next);
      return next.accessToken;
    }
    if (renewed.status === 401) {
      await save(null);
      return null;
    }
    throw new Error(renewed.problem.detail || `refresh failed: HTTP ${renewed.status}`);
  });
}

/** Runs a signed-in call, renewing the token and trying once more on a 401. */
export async function withToken<T>(call: (token: string) => Promise<Outcome<T>>): Promise<Outcome<T>> {
  const token = await accessToken();
  if (!token) return { ok: false, status: 401, problem: signedOutProblem() };
  const first = await call(token);
  if (first.status !== 401) return first;
  const renewed = await accessToken(token);
  if (!renewed) return { ok: false, status: 401, problem: signedOutProblem() };
  return call(renewed);
}

/** How the outbox sends a crew's change. */
export function sendJobItem(item: JobItem): Promise<Outcome<Job | Photo[]>> {
  return withToken<Job | Photo[]>((token) => {
    if (item.change.action === 'photo') {
      return addJobPhotos(token, item.jobId, item.photo ? [item.photo.blob] : []);
    }
    return postJobAction(token, item.jobId, item.version, item.change);
  });
}

setJobSender(sendJobItem);
