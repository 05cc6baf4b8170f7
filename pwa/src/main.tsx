import { render } from 'preact';
import { App } from './app';
import { langStore, refreshCatalog } from './state';
import { startOutboxTriggers } from './sync';
import './styles.css';

document.documentElement.lang = langStore.get();
render(<App />, document.getElementById('app')!);

void refreshCatalog();
startOutboxTriggers();

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {
      // Without a service worker the app still works online, and its outbox still retries.
    });
  });
}
