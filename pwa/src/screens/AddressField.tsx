// The report's address, and a way to place it without the map: as the resident types, the
// city's own gazetteer (`GET /geocode`) suggests addresses in a list they reach with the arrow
// keys (ARIA combobox with aria-activedescendant) or a tap; choosing one places the report
// there. How many were found is said in a live region. Offline, it says that searching needs a
// connection — what is typed is still sent as the report's address.
import { useEffect, useRef, useState } from 'preact/hooks';
import { geocode, type GeocodedAddress } from '../api';
import { countKey } from '../i18n';
import { onlineStore, useStore, useT } from '../state';

/** How long typing must pause before the server is asked. */
const TYPING_PAUSE_MS = 300;
/** Fewer characters than this find too much to be useful. */
const MIN_QUERY = 3;

type Search =
  | { state: 'idle' }
  | { state: 'searching' }
  | { state: 'found'; items: GeocodedAddress[] }
  | { state: 'failed' }
  | { state: 'chosen'; address: string };

export function AddressField(props: {
  value: string;
  onValue(value: string): void;
  onChoose(address: GeocodedAddress): void;
  jurisdiction: string | undefined;
  invalid: boolean;
}) {
  const { t } = useT();
  const online = useStore(onlineStore);
  const [search, setSearch] = useState<Search>({ state: 'idle' });
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  /** The text of the last address chosen: not searched again. */
  const chosen = useRef<string | null>(null);

  useEffect(() => {
    const q = props.value.trim();
    if (!online || q.length < MIN_QUERY || q === chosen.current) {
      if (search.state === 'searching' || search.state === 'found') setSearch({ state: 'idle' });
      setOpen(false);
      return;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => {
      setSearch({ state: 'searching' });
      geocode(q, props.jurisdiction, controller.signal).then(
        (items) => {
          setSearch({ state: 'found', items });
          setActive(-1);
          setOpen(items.length > 0);
        },
        () => {
          if (!controller.signal.aborted) {
            setSearch({ state: 'failed' });
            setOpen(false);
          }
        },
      );
    }, TYPING_PAUSE_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [props.value, online, props.jurisdiction]);

  const items = search.state === 'found' ? search.items : [];
  const optionId = (i: number) => `f-address-option-${i}`;

  function choose(item: GeocodedAddress): void {
    chosen.current = item.address;
    setOpen(false);
    setActive(-1);
    setSearch({ state: 'chosen', address: item.address });
    props.onValue(item.address);
    props.onChoose(item);
  }

  function onKeyDown(event: KeyboardEvent): void {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      if (items.length === 0) return;
      event.preventDefault();
      setOpen(true);
      const step = event.key === 'ArrowDown' ? 1 : -1;
      setActive((i) => (i + step + items.length + (i < 0 && step < 0 ? 1 : 0)) % items.length);
    } else if (event.key === 'Enter' && open && active >= 0 && items[active]) {
      event.preventDefault();
      choose(items[active]);
    } else if (event.key === 'Escape' && open) {
      event.preventDefault();
      setOpen(false);
      setActive(-1);
    }
  }

  const message = !online
    ? t('report.address.offline')
    : search.state === 'searching'
      ? t('report.address.searching')
      : search.state === 'found'
        ? t(countKey('report.address.found', items.length), { n: items.length })
        : search.state === 'failed'
          ? t('report.address.error')
          : search.state === 'chosen'
            ? t('report.address.chosen', { address: search.address })
            : '';
  const expanded = open && items.length > 0;

  return (
    <div class="combo">
      <label for="f-address" id="f-address-label">
        {t('report.address')}
      </label>
      <p id="f-address-hint" class="hint">
        {t('report.address.hint')}
      </p>
      <input
        id="f-address"
        type="text"
        role="combobox"
        aria-autocomplete="list"
        aria-expanded={expanded ? 'true' : 'false'}
        aria-controls="f-address-list"
        aria-activedescendant={expanded && active >= 0 ? optionId(active) : undefined}
        aria-describedby="f-address-hint f-address-status"
        aria-invalid={props.invalid ? 'true' : undefined}
        maxLength={300}
        autoComplete="street-address"
        value={props.value}
        onInput={(e) => {
          chosen.current = null;
          props.onValue((e.target as HTMLInputElement).value);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => setOpen(false)}
        onFocus={() => setOpen(items.length > 0)}
      />
      <ul
        id="f-address-list"
        role="listbox"
        aria-labelledby="f-address-label"
        class="suggestions"
        hidden={!expanded}
      >
        {items.map((item, i) => (
          <li
            key={item.id}
            id={optionId(i)}
            role="option"
            aria-selected={i === active ? 'true' : 'false'}
            // Keeps the focus in the field, so the tap chooses before the list closes.
            onMouseDown={(e) => e.preventDefault()}
            onClick={() => choose(item)}
          >
            {item.address}
            {item.match === 'similar' && (
              <span class="muted"> ({t('report.address.similar')})</span>
            )}
          </li>
        ))}
      </ul>
      <p
        id="f-address-status"
        class={!online || search.state === 'failed' ? 'hint warn-soft' : 'hint'}
        role="status"
        aria-live="polite"
      >
        {message}
      </p>
    </div>
  );
}
