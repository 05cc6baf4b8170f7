import { useEffect, useRef, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { linkClick, routeStore, type Route } from './router';
import {
  announcementStore,
  onlineStore,
  setLang,
  useStore,
  useT,
} from './state';
import { isJob, listOutbox, onOutboxChange } from './outbox';
import { getSession, onSessionChange } from './auth';
import { MapScreen } from './screens/MapScreen';
import { ReportScreen } from './screens/ReportScreen';
import { MineScreen } from './screens/MineScreen';
import { DetailScreen } from './screens/DetailScreen';
import { IncidentScreen } from './screens/IncidentScreen';
import { CrewLoader } from './crew/loader';

function usePendingCount(): number {
  const [count, setCount] = useState(0);
  useEffect(() => {
    const load = () => void listOutbox().then((items) => setCount(items.filter((i) => !isJob(i)).length), () => {});
    load();
    return onOutboxChange(load);
  }, []);
  return count;
}

/** Whether a staff member is signed in on this device (the footer link then opens the queue). */
function useSignedIn(): boolean {
  const [signedIn, setSignedIn] = useState(false);
  useEffect(() => {
    const load = () => void getSession().then((s) => setSignedIn(s !== null), () => {});
    load();
    return onSessionChange(load);
  }, []);
  return signedIn;
}

function Screen({ route }: { route: Route }) {
  const { t } = useT();
  switch (route.name) {
    case 'map':
      return <MapScreen />;
    case 'report':
      return <ReportScreen />;
    case 'mine':
      return <MineScreen />;
    case 'detail':
      return <DetailScreen id={route.id} />;
    case 'incident':
      return <IncidentScreen id={route.id} />;
    case 'staff':
    case 'job':
      return <CrewLoader route={route} />;
    default:
      return (
        <section class="screen">
          <h1 tabIndex={-1}>404</h1>
          <p>
            <a href="/" onClick={linkClick}>
              {t('report.detail.back')}
            </a>
          </p>
        </section>
      );
  }
}

function Tab(props: {
  href: string;
  current: boolean;
  icon: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <a
      href={props.href}
      onClick={linkClick}
      class={props.current ? 'tab current' : 'tab'}
      aria-current={props.current ? 'page' : undefined}
    >
      <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false">
        {props.icon}
      </svg>
      <span>{props.children}</span>
    </a>
  );
}

export function App() {
  const { lang, t } = useT();
  const route = useStore(routeStore);
  const online = useStore(onlineStore);
  const announcement = useStore(announcementStore);
  const pending = usePendingCount();
  const signedIn = useSignedIn();
  const first = useRef(true);

  // Moving between screens moves the focus to the new screen's heading, as a page load would.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    document.querySelector<HTMLElement>('main h1')?.focus();
    // A message stays until the resident leaves the screen that followed it.
    const last = announcementStore.get();
    if (last && Date.now() - last.at > 1500) announcementStore.set(null);
  }, [route]);

  useEffect(() => {
    document.title =
      route.name === 'report'
        ? `${t('report.title')} · Signalons`
        : route.name === 'mine'
          ? `${t('mine.title')} · Signalons`
          : route.name === 'incident'
            ? `${t('incident.title', { id: route.id })} · Signalons`
          : route.name === 'staff' || route.name === 'job'
            ? `${t('staff.link.queue')} · Signalons`
            : 'Signalons';
  }, [route, lang]);

  const other = lang === 'en' ? 'fr' : 'en';
  return (
    <>
      <a class="skip" href="#main">
        {t('common.skip')}
      </a>
      <header class="top">
        <a href="/" onClick={linkClick} class="brand">
          <img src="/icon.svg" alt="" width={28} height={28} />
          <span>{t('app.name')}</span>
        </a>
        <button
          type="button"
          class="lang"
          lang={other}
          title={t('lang.switch')}
          onClick={() => setLang(other)}
        >
          {t('lang.other')}
        </button>
      </header>
      {!online && (
        <p class="offline">
          <span aria-hidden="true">⚡ </span>
          {t('net.offline')}
        </p>
      )}
      <main id="main">
        <Screen route={route} />
        {route.name !== 'staff' && route.name !== 'job' && (
          <footer class="site-footer">
            <a href="/staff" onClick={linkClick}>
              {t(signedIn ? 'staff.link.queue' : 'staff.link')}
            </a>
          </footer>
        )}
      </main>
      <div
        class={announcement ? `toast ${announcement.kind}` : 'toast empty'}
        role="status"
        aria-live="polite"
        aria-atomic="true"
      >
        {announcement && (
          <>
            <span>{announcement.text}</span>
            <button
              type="button"
              class="link"
              onClick={() => announcementStore.set(null)}
              aria-label={t('common.close')}
            >
              ×
            </button>
          </>
        )}
      </div>
      <nav class="tabs" aria-label={t('nav.label')}>
        <Tab
          href="/"
          current={route.name === 'map' || route.name === 'detail'}
          icon={<path d="M9 3 3 5.5v15.5l6-2.5 6 2.5 6-2.5V3l-6 2.5L9 3Zm0 2.2 6 2.5v11.1l-6-2.5V5.2Z" />}
        >
          {t('nav.map')}
        </Tab>
        <Tab
          href="/report"
          current={route.name === 'report'}
          icon={<path d="M11 5h2v6h6v2h-6v6h-2v-6H5v-2h6V5Z" />}
        >
          {t('nav.report')}
        </Tab>
        <Tab
          href="/mine"
          current={route.name === 'mine' || route.name === 'incident'}
          icon={<path d="M5 4h14v2H5V4Zm0 5h14v2H5V9Zm0 5h9v2H5v-2Zm0 5h9v2H5v-2Z" />}
        >
          {t('nav.mine')}
          {pending > 0 && (
            <span class="badge">
              {pending}
              <span class="sr-only"> ({t('mine.state.pending')})</span>
            </span>
          )}
        </Tab>
      </nav>
    </>
  );
}
