// This device's random identifier, made once and kept: the server counts one "me too" per
// device (it stores only a hash). Shared by nothing else; never derived from the hardware.
export const DEVICE_KEY = 'signalons.device';

type KeyValueStore = Pick<Storage, 'getItem' | 'setItem'>;

let memory: string | null = null;

const valid = (id: string | null): id is string => !!id && id.length >= 8 && id.length <= 128;

function defaultStorage(): KeyValueStore | undefined {
  try {
    return globalThis.localStorage;
  } catch {
    return undefined;
  }
}

/** The device id, made on first use; kept in memory too when storage is disabled. */
export function deviceId(
  storage: KeyValueStore | undefined = defaultStorage(),
  make: () => string = () => crypto.randomUUID(),
): string {
  let saved: string | null = null;
  try {
    saved = storage?.getItem(DEVICE_KEY) ?? null;
  } catch {
    // Private mode: fall through to the id kept for this visit.
  }
  if (valid(saved)) return saved;
  const id = valid(memory) ? memory : make();
  memory = id;
  try {
    storage?.setItem(DEVICE_KEY, id);
  } catch {
    // Not persisted: the same id is still used for this visit.
  }
  return id;
}

/** Forgets the id kept in memory (tests). */
export function resetDeviceMemory(): void {
  memory = null;
}
