import { render } from 'preact';
import { App } from './app';
import { catalogErrorStore, langStore, refreshCatalog, storage } from './state';
import { refreshClientConfig } from './config';
import { getClientConfig } from './api';
import { startOutboxTriggers } from './sync';
import './styles.css';

document.documentElement.lang = langStore.get();
render(<App />, document.getElementById('app')!);

void refreshCatalog();
const loadConfig = () => refreshClientConfig(storage, getClientConfig);
let configLoaded = loadConfig();
// A start made offline gets the categories and the map's tiles as soon as the network is back.
window.addEventListener('online', () => {
  if (catalogErrorStore.get()) void refreshCatalog();
  void configLoaded.then((answered) => {
    if (!answered) configLoaded = loadConfig();
  });
});
startOutboxTriggers();

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {
      // Without a service worker the app still works online, and its outbox still retries.
    });
  });
}
