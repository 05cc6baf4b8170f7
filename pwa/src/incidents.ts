// Reports as problems: several residents reporting one pothole make one incident. The list
// under the map shows each problem once, and says when others know it too. Pure: unit tested.
import type { IncidentCounts, Report } from './api';

/** The newest report of each problem, in the order given (newest first). */
export function onePerIncident(reports: readonly Report[]): Report[] {
  const seen = new Set<number>();
  return reports.filter((r) => {
    if (seen.has(r.incident_id)) return false;
    seen.add(r.incident_id);
    return true;
  });
}

/** Whether others know the problem too: more than one report of it, or supporters. */
export function isKnown(counts: IncidentCounts): boolean {
  return counts.report_count > 1 || counts.supporters_count > 0;
}
