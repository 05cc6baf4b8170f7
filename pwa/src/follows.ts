// Following incidents and saying "me too" from a screen. Each wish goes through the outbox
// (offline too); the list of what this device follows comes from the server when it answers
// (`GET /me/follows` with the device id), kept on the device with each incident's latest history
// for offline use.
import { useEffect, useState } from 'preact/hooks';
import { getIncidentHistory, listDeviceFollows, type Incident } from './api';
import { deviceId } from './device';
import { translate, type MessageKey } from './i18n';
import {
  discard,
  enqueueFollow,
  enqueueSupport,
  listFollowed,
  listSupported,
  onOutboxChange,
  replaceFollowed,
  sendOne,
  updateFollowed,
  type SendResult,
} from './outbox';
import { announce, langStore } from './state';
import { announceResults, requestBackgroundSync } from './sync';

/** How many followed incidents get their history refreshed each time the list is shown. */
const REFRESH_LIMIT = 20;
/** How much of each followed incident's history the list shows. */
export const HISTORY_PREVIEW = 3;

/** The incident whose news a followed one now has: the one it was merged into, or itself. */
export const newsOf = (incidentId: number, incident: Incident | null | undefined) =>
  incident?.merged_into ?? incidentId;

/**
 * Reads what this device follows from the server into the list kept here, then the latest
 * history of each. Throws when the server cannot be reached (the list kept here stays).
 */
export async function refreshFollows(): Promise<void> {
  // Sent meanwhile, a wish makes the list out of date: asked again (at most twice more).
  for (let attempt = 0; attempt < 3; attempt++) {
    const askedAt = new Date();
    if (await replaceFollowed(await listDeviceFollows(deviceId()), askedAt)) break;
  }
  const followed = await listFollowed();
  await Promise.all(
    followed.slice(0, REFRESH_LIMIT).map(async (entry) => {
      try {
        const page = await getIncidentHistory(newsOf(entry.incidentId, entry.incident), {
          limit: HISTORY_PREVIEW,
        });
        await updateFollowed(entry.incidentId, { events: page.items, moreEvents: !!page.next_cursor });
      } catch {
        // Offline or gone meanwhile: what was seen last stays.
      }
    }),
  );
}

/** Whether this device follows `incidentId`, as the list kept here says (wishes included). */
export function useFollowing(incidentId: number | null): boolean {
  const [following, setFollowing] = useState(false);
  useEffect(() => {
    if (incidentId === null) return;
    const load = () =>
      void listFollowed().then(
        (list) => setFollowing(list.some((f) => f.incidentId === incidentId)),
        () => {},
      );
    load();
    return onOutboxChange(load);
  }, [incidentId]);
  return following;
}

/** Whether this device already said "me too" to `incidentId`. */
export function useSupported(incidentId: number): boolean {
  const [supported, setSupported] = useState(false);
  useEffect(() => {
    const load = () =>
      void listSupported().then((ids) => setSupported(ids.includes(incidentId)), () => {});
    load();
    return onOutboxChange(load);
  }, [incidentId]);
  return supported;
}

/** The ids this device follows (for lists of several incidents). */
export function useFollowedIds(): ReadonlySet<number> {
  const [ids, setIds] = useState<ReadonlySet<number>>(new Set());
  useEffect(() => {
    const load = () =>
      void listFollowed().then((list) => setIds(new Set(list.map((f) => f.incidentId))), () => {});
    load();
    return onOutboxChange(load);
  }, []);
  return ids;
}

const say = (key: MessageKey) => announce(translate(langStore.get(), key));

/** Says what a send gave; kept on the device, it goes later (Background Sync asked too). */
function tell(result: SendResult, saved: MessageKey): void {
  if (result.verdict === 'retry') {
    say(saved);
    void requestBackgroundSync();
  } else {
    announceResults([result]);
  }
}

/** Follows `incidentId` or stops, through the outbox; says what became of it. */
export async function changeFollowing(
  incidentId: number,
  follow: boolean,
  incident: Incident | null,
  email?: string,
): Promise<SendResult> {
  const item = await enqueueFollow(
    incidentId,
    follow,
    { device_id: deviceId(), notify_email: follow && email ? email : undefined },
    incident,
  );
  const result = await sendOne(item.key);
  tell(result, 'follow.saved');
  return result;
}

/**
 * "Me too" from a screen, through the outbox. Refused (the incident closed meanwhile), it is
 * not kept: the screen shows why.
 */
export async function sayMeToo(incidentId: number, email?: string): Promise<SendResult> {
  const item = await enqueueSupport(incidentId, {
    device_id: deviceId(),
    notify_email: email || undefined,
  });
  const result = await sendOne(item.key);
  if (result.verdict === 'rejected') await discard(item.key);
  else tell(result, 'dup.saved');
  return result;
}
