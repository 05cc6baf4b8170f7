import { beforeEach, describe, expect, it } from 'vitest';
import { DEVICE_KEY, deviceId, resetDeviceMemory } from '../src/device';

function memoryStorage() {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k: string) => data.get(k) ?? null,
    setItem: (k: string, v: string) => void data.set(k, v),
  };
}

const broken = {
  getItem: (): string | null => {
    throw new Error('SecurityError');
  },
  setItem: () => {
    throw new Error('SecurityError');
  },
};

beforeEach(() => resetDeviceMemory());

describe('device id', () => {
  it('is made once, kept, and the same on every later call', () => {
    const storage = memoryStorage();
    let made = 0;
    const make = () => `device-${++made}-0000-0000`;
    const first = deviceId(storage, make);
    expect(first).toBe('device-1-0000-0000');
    expect(storage.data.get(DEVICE_KEY)).toBe(first);
    resetDeviceMemory(); // as after a reload
    expect(deviceId(storage, make)).toBe(first);
    expect(made).toBe(1);
  });

  it('is a random UUID by default', () => {
    expect(deviceId(memoryStorage())).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('replaces a stored value the server would refuse', () => {
    const storage = memoryStorage();
    storage.setItem(DEVICE_KEY, 'short');
    expect(deviceId(storage, () => 'a-valid-device-id')).toBe('a-valid-device-id');
    expect(storage.data.get(DEVICE_KEY)).toBe('a-valid-device-id');
  });

  it('stays the same for the visit when storage is disabled', () => {
    let made = 0;
    const make = () => `device-${++made}-0000-0000`;
    expect(deviceId(broken, make)).toBe(deviceId(broken, make));
    expect(deviceId(undefined, make)).toBe('device-1-0000-0000');
    expect(made).toBe(1);
  });
});
