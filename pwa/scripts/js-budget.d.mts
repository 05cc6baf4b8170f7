export const DEFAULT_BUDGET_KB: number;
export const FIRST_SCREEN_IMPORTS: string[];
export type Manifest = Record<string, { file: string; imports?: string[] }>;
export function initialScripts(html: string): string[];
export function chunkFiles(manifest: Manifest, key: string, into?: Set<string>): Set<string>;
export function firstScreenScripts(html: string, manifest: Manifest, imports?: readonly string[]): string[];
export function gzipSize(bytes: Uint8Array): number;
export function checkBudget(
  sizes: readonly { gzip: number }[],
  budgetKb: number,
): { total: number; ok: boolean };
export function measureFirstScreen(dist: string): { file: string; raw: number; gzip: number }[];
