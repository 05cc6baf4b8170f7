// The crew screens are fetched on demand: residents never download them.
import { useEffect, useState } from 'preact/hooks';
import type { Route } from '../router';
import { useT } from '../state';

type CrewModule = typeof import('./CrewApp');
let loaded: CrewModule | null = null;

export function CrewLoader({ route }: { route: Route }) {
  const { t } = useT();
  const [module, setModule] = useState<CrewModule | null>(loaded);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (module) return;
    import('./CrewApp').then(
      (m) => {
        loaded = m;
        setModule(m);
      },
      () => setFailed(true),
    );
  }, []);
  if (!module) {
    return (
      <section class="screen">
        <h1 tabIndex={-1}>{t('staff.link.queue')}</h1>
        <p role="status">{failed ? t('error.network') : t('common.loading')}</p>
      </section>
    );
  }
  return <module.CrewRoot route={route} />;
}
