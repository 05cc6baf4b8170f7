import { describe, expect, it } from 'vitest';
import { detectLang, initialLang, messages, saveLang, translate } from '../src/i18n';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('i18n', () => {
  it('has every message in both languages, with the same placeholders', () => {
    const en = messages.en;
    const fr = messages.fr;
    expect(Object.keys(fr).sort()).toEqual(Object.keys(en).sort());
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(fr[key].trim(), key).not.toBe('');
      expect(placeholders(fr[key]), key).toEqual(placeholders(en[key]));
    }
  });

  it('fills placeholders and leaves unknown ones', () => {
    expect(translate('en', 'outbox.sent', { id: 42 })).toBe('Report sent: number 42.');
    expect(translate('fr', 'outbox.sent', { id: 42 })).toBe('Signalement envoyé : numéro 42.');
    expect(translate('en', 'outbox.sent')).toBe('Report sent: number {id}.');
  });

  it('takes the first device language it speaks', () => {
    expect(detectLang(['fr-CA', 'en-US'])).toBe('fr');
    expect(detectLang(['de-DE', 'en-GB', 'fr'])).toBe('en');
    expect(detectLang(['de', 'FR_be'])).toBe('fr');
    expect(detectLang(['de'])).toBe('en');
    expect(detectLang([])).toBe('en');
    expect(detectLang(undefined)).toBe('en');
  });

  it('remembers the resident’s choice over the device language', () => {
    const data = new Map<string, string>();
    const storage = {
      getItem: (k: string) => data.get(k) ?? null,
      setItem: (k: string, v: string) => void data.set(k, v),
    };
    expect(initialLang(storage, ['en-US'])).toBe('en');
    saveLang(storage, 'fr');
    expect(initialLang(storage, ['en-US'])).toBe('fr');
    data.set('signalons.lang', 'xx');
    expect(initialLang(storage, ['en-US'])).toBe('en');
  });

  it('survives a storage that refuses', () => {
    const broken = {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
    };
    expect(() => saveLang(broken, 'fr')).not.toThrow();
    expect(initialLang(broken, ['fr'])).toBe('fr');
  });
});
