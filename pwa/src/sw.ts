// The service worker: the app shell precached (it opens offline), client-side routes answered
// with index.html, and Background Sync sending the outbox when the connection returns, even if
// the app was closed. The API itself is never cached here: the outbox (IndexedDB) and the
// catalog (localStorage) are what the app needs offline.
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching';
import { NavigationRoute, registerRoute } from 'workbox-routing';
import { flushOutbox, shareResults, SYNC_TAG } from './outbox';
// Installs the signed-in sender of crews' changes.
import './auth';

declare const self: ServiceWorkerGlobalScope & {
  __WB_MANIFEST: Array<{ url: string; revision: string | null }>;
};

interface SyncEvent extends ExtendableEvent {
  readonly tag: string;
  readonly lastChance: boolean;
}

self.addEventListener('install', () => void self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();
registerRoute(
  new NavigationRoute(createHandlerBoundToURL('/index.html'), {
    denylist: [/^\/api\//, /^\/healthz/, /^\/readyz/],
  }),
);

self.addEventListener('sync', (event) => {
  const sync = event as SyncEvent;
  if (sync.tag !== SYNC_TAG) return;
  sync.waitUntil(
    flushOutbox().then((results) => {
      // An open app says what became of them (it did not send them itself).
      shareResults(results);
      // Rejecting asks the browser to try again later, with its own back-off.
      if (results.some((r) => r.verdict === 'retry')) throw new Error('outbox not sent yet');
    }),
  );
});
