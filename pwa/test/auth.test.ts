import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const calls: string[] = [];
let refreshAnswer: 'ok' | 'denied' = 'ok';
let n = 0;
const session = () => ({
  access_token: `access-${++n}`,
  token_type: 'Bearer',
  expires_in: 900,
  refresh_token: `refresh-${n}`,
  refresh_expires_at: '2099-01-01T00:00:00Z',
  user: { id: 5, email: 'crew@example.org', display_name: 'Crew', role: 'crew', departments: ['PWD_D10A'] },
});

vi.mock('../src/api', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/api')>();
  return {
    ...original,
    login: async () => {
      calls.push('login');
      return { ok: true, status: 200, data: session() };
    },
    refreshSession: async (token: string) => {
      calls.push(`refresh ${token}`);
      return refreshAnswer === 'ok'
        ? { ok: true, status: 200, data: session() }
        : { ok: false, status: 401, problem: original.toProblem(401, {}) };
    },
    logout: async () => {
      calls.push('logout');
    },
  };
});

const auth = await import('../src/auth');
const outbox = await import('../src/outbox');

beforeEach(async () => {
  calls.length = 0;
  refreshAnswer = 'ok';
  await outbox.closeDb();
  await new Promise<void>((resolve) => {
    const request = indexedDB.deleteDatabase(outbox.DB_NAME);
    request.onsuccess = () => resolve();
  });
});
afterEach(() => outbox.closeDb());

describe('the staff session', () => {
  it('is signed out until signed in', async () => {
    const result = await auth.withToken(async () => ({ ok: true as const, status: 200, data: 1 }));
    expect(result).toMatchObject({ ok: false, status: 401, problem: { code: 'signed_out' } });
  });

  it('renews the token on a 401 and tries once more with the new one', async () => {
    await auth.signIn('crew@example.org', 'secret');
    const used: string[] = [];
    const result = await auth.withToken(async (token) => {
      used.push(token);
      return used.length === 1
        ? { ok: false as const, status: 401, problem: { type: '', title: '', status: 401, detail: '', code: 'x' } }
        : { ok: true as const, status: 200, data: 'done' };
    });
    expect(result).toMatchObject({ ok: true, data: 'done' });
    expect(used).toHaveLength(2);
    expect(used[0]).not.toBe(used[1]);
    expect(calls).toEqual(['login', `refresh ${used[0].replace('access', 'refresh')}`]);
  });

  it('renews a token about to expire before using it', async () => {
    const stored = auth.toStored(session() as never, Date.now() - 900_000);
    expect(auth.needsRefresh(stored)).toBe(true);
    expect(auth.needsRefresh(auth.toStored(session() as never))).toBe(false);
  });

  it('is signed out when the refresh token is refused', async () => {
    await auth.signIn('crew@example.org', 'secret');
    refreshAnswer = 'denied';
    const token = (await auth.getSession())!.accessToken;
    expect(await auth.accessToken(token)).toBeNull();
    expect(await auth.getSession()).toBeNull();
  });

  it('signs out here and on the server', async () => {
    await auth.signIn('crew@example.org', 'secret');
    await auth.signOut();
    expect(await auth.getSession()).toBeNull();
    expect(calls).toContain('logout');
  });
});
