export const DEFAULT_BUDGET_KB: number;
export function initialScripts(html: string): string[];
export function gzipSize(bytes: Uint8Array): number;
export function checkBudget(
  sizes: readonly { gzip: number }[],
  budgetKb: number,
): { total: number; ok: boolean };
