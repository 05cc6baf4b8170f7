import { describe, expect, it } from 'vitest';
import { detectLang, formatDueDate, initialLang, messages, saveLang, translate } from '../src/i18n';

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

  it('names the last day a due date allows, in the city’s time zone', () => {
    // Two days for a pothole reported on Wednesday 16 December in Boston: due by Friday's end,
    // which the server gives as Saturday 00:00 in Boston (05:00 UTC).
    const due = '2026-12-19T05:00:00Z';
    expect(formatDueDate('en', due, 'America/New_York')).toBe('Fri, Dec 18, 2026');
    expect(formatDueDate('fr', due, 'America/New_York')).toBe('ven. 18 déc. 2026');
    // Not the phone's day: in Paris that instant is already Saturday morning.
    expect(formatDueDate('en', due, 'Europe/Paris')).toBe('Sat, Dec 19, 2026');
    expect(formatDueDate('en', due, 'Not/A_Zone')).toMatch(/2026/);
  });
});
