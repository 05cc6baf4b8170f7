import { render } from 'preact';
import { App } from './app';
import { catalogErrorStore, langStore, refreshCatalog } from './state';
import { startOutboxTriggers } from './sync';
import './styles.css';

document.documentElement.lang = langStore.get();
render(<App />, document.getElementById('app')!);

void refreshCatalog();
// A first visit made offline gets the categories as soon as the network is back.
window.addEventListener('online', () => {
  if (catalogErrorStore.get()) void refreshCatalog();
});
startOutboxTriggers();

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {
      // Without a service worker the app still works online, and its outbox still retries.
    });
  });
}
