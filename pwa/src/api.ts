// Every call to the Signalons API goes through here, typed from openapi/openapi.json (generated
// into src/generated/api.ts at build time, so a contract change that the app does not follow
// breaks `tsc`). Used by the page and by the service worker (no DOM here).
//
// Endpoints still to come slot in beside these: login and the crew queue.
import createClient from 'openapi-fetch';
import type { components, paths } from './generated/api';
import { tileAlignedBBox } from './tiles';

type Schemas = components['schemas'];
export type Report = Schemas['Report'];
export type ReportEvent = Schemas['ReportEvent'];
export type ReportStatus = Schemas['ReportStatus'];
export type CreateReport = Schemas['CreateReport'];
export type Category = Schemas['Category'];
export type Jurisdiction = Schemas['Jurisdiction'];
export type Problem = Schemas['Problem'];
export type FieldError = Schemas['FieldError'];
export type CreatedReport = Schemas['CreatedReport'];
export type RoutingPreview = Schemas['RoutingPreview'];
export type DuplicateCandidate = Schemas['DuplicateCandidate'];
export type MatchReason = Schemas['MatchReason'];
export type Incident = Schemas['Incident'];
export type SupportRequest = Schemas['SupportRequest'];
export type SupportResult = Schemas['SupportResult'];
export type MapCluster = Schemas['Cluster'];
export type ClusterList = Schemas['ClusterList'];

/** West, south, east, north in degrees. */
export type BBox = [number, number, number, number];

export const client = createClient<paths>({ baseUrl: '' });

/** Raised when an answer is not the expected one; network failures stay TypeErrors. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail || problem.title || `HTTP ${status}`);
  }
}

/** A problem document from whatever came back (the body may not be one, e.g. from a proxy). */
export function toProblem(status: number, body: unknown): Problem {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Partial<Problem>;
  return {
    type: typeof b.type === 'string' ? b.type : 'about:blank',
    title: typeof b.title === 'string' ? b.title : `HTTP ${status}`,
    status,
    detail: typeof b.detail === 'string' ? b.detail : typeof body === 'string' ? body : '',
    code: typeof b.code === 'string' ? b.code : `http_${status}`,
    errors: Array.isArray(b.errors) ? b.errors : undefined,
  };
}

function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data !== undefined && result.response.ok) return result.data;
  throw new ApiError(result.response.status, toProblem(result.response.status, result.error));
}

export async function listJurisdictions(): Promise<Jurisdiction[]> {
  return unwrap(await client.GET('/api/v1/jurisdictions')).items;
}

export async function listCategories(jurisdiction: string): Promise<Category[]> {
  return unwrap(await client.GET('/api/v1/categories', { params: { query: { jurisdiction } } }))
    .items;
}

export interface ReportFilter {
  category?: string;
  status?: string;
}

export const MAX_PAGE = 200;

/** The reports of the map tiles covering `bbox` at `zoom`, counted per cell by the server
 *  (exact counts, whatever the number of reports; revalidated with the ETag by the browser). */
export async function mapClusters(
  bbox: BBox,
  zoom: number,
  filter: ReportFilter,
  signal?: AbortSignal,
): Promise<ClusterList> {
  return unwrap(
    await client.GET('/api/v1/map/clusters', {
      params: {
        query: {
          bbox: tileAlignedBBox(bbox, zoom).join(','),
          zoom,
          category: filter.category || undefined,
          status: filter.status || undefined,
        },
      },
      signal,
    }),
  );
}

/** The newest reports in a viewport, up to `max` (several pages when needed). */
export async function listReportsInBBox(
  bbox: BBox,
  filter: ReportFilter,
  max: number,
  signal?: AbortSignal,
): Promise<{ items: Report[]; complete: boolean }> {
  const items: Report[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = unwrap(
      await client.GET('/api/v1/reports', {
        params: {
          query: {
            bbox: bbox.map((v) => v.toFixed(6)).join(','),
            category: filter.category || undefined,
            status: filter.status || undefined,
            limit: Math.min(MAX_PAGE, max - items.length),
            cursor,
          },
        },
        signal,
      }),
    );
    items.push(...page.items);
    cursor = page.next_cursor ?? undefined;
    if (!cursor) return { items, complete: true };
    if (items.length >= max) return { items, complete: false };
  }
}

export async function getReport(id: number): Promise<Report> {
  return unwrap(await client.GET('/api/v1/reports/{id}', { params: { path: { id } } }));
}

export async function getReportEvents(id: number): Promise<ReportEvent[]> {
  return unwrap(await client.GET('/api/v1/reports/{id}/events', { params: { path: { id } } }))
    .items;
}

/** What one attempt to create a report gave. Network failures throw (TypeError). */
export type CreateOutcome =
  | { ok: true; status: number; report: CreatedReport; replayed: boolean }
  | { ok: false; status: number; problem: Problem };

export async function createReport(key: string, body: CreateReport): Promise<CreateOutcome> {
  const { data, error, response } = await client.POST('/api/v1/reports', {
    params: { header: { 'Idempotency-Key': key } },
    body,
  });
  if (response.ok && data) {
    return {
      ok: true,
      status: response.status,
      report: data,
      replayed: response.headers.get('Idempotent-Replayed') === 'true',
    };
  }
  return { ok: false, status: response.status, problem: toProblem(response.status, error) };
}

/** Who would handle a report of `category` here; 422 `outside_jurisdiction` away from the city. */
export async function getRouting(
  lat: number,
  long: number,
  category: string,
  signal?: AbortSignal,
): Promise<RoutingPreview> {
  return unwrap(
    await client.GET('/api/v1/routing', { params: { query: { lat, long, category } }, signal }),
  );
}

/** Open incidents that may be the problem about to be reported: best first, at most 5. */
export async function listDuplicates(
  query: { lat: number; long: number; category: string; description?: string; address?: string },
  signal?: AbortSignal,
): Promise<DuplicateCandidate[]> {
  return unwrap(await client.GET('/api/v1/reports/duplicates', { params: { query }, signal }))
    .items;
}

export async function getIncident(id: number): Promise<Incident> {
  return unwrap(await client.GET('/api/v1/incidents/{id}', { params: { path: { id } } }));
}

/** What one "me too" gave. Network failures throw (TypeError). */
export type SupportOutcome =
  | { ok: true; status: number; result: SupportResult }
  | { ok: false; status: number; problem: Problem };

/** "Me too": one support per device, so sending it again is harmless (200, not newly). */
export async function supportIncident(id: number, body: SupportRequest): Promise<SupportOutcome> {
  const { data, error, response } = await client.POST('/api/v1/incidents/{id}/supports', {
    params: { path: { id } },
    body,
  });
  if (response.ok && data) return { ok: true, status: response.status, result: data };
  return { ok: false, status: response.status, problem: toProblem(response.status, error) };
}
