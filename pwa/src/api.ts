// Every call to the Signalons API goes through here, typed from openapi/openapi.json (generated
// into src/generated/api.ts at build time, so a contract change that the app does not follow
// breaks `tsc`). Used by the page and by the service worker (no DOM here).
//
// Staff calls (sign-in, the queue, jobs) take the access token as an argument: src/auth.ts keeps
// the session and refreshes it.
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
export type Photo = Schemas['Photo'];
export type Session = Schemas['Session'];
export type Me = Schemas['Me'];
export type Job = Schemas['Job'];
export type QueuePage = Schemas['QueuePage'];
export type StatusChange = Schemas['StatusChange'];
export type ClientConfig = Schemas['ClientConfig'];
export type IncidentCounts = Schemas['IncidentCounts'];
export type GeocodedAddress = Schemas['GeocodedAddress'];
export type FollowRequest = Schemas['FollowRequest'];
export type FollowedIncident = Schemas['FollowedIncident'];
export type IncidentHistory = Schemas['IncidentHistory'];

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
  const current = b.current !== undefined && b.current !== null ? { current: b.current } : {};
  return {
    ...current,
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

/** What the server tells its clients: the map's tiles. */
export async function getClientConfig(): Promise<ClientConfig> {
  return unwrap(await client.GET('/api/v1/config'));
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

/** The body of a create: JSON, or multipart with the report as a JSON part and its photos. */
export function reportFormData(body: CreateReport, photos: readonly Blob[]): FormData {
  const form = new FormData();
  form.append('report', new Blob([JSON.stringify(body)], { type: 'application/json' }), 'report.json');
  photos.forEach((photo, i) => form.append('photo', photo, `photo-${i + 1}.jpg`));
  return form;
}

/** Creates a report, with its photos when there are any (one multipart request: the
 *  Idempotency-Key covers them too, so a retry never stores them twice). */
export async function createReport(
  key: string,
  body: CreateReport,
  photos: readonly Blob[] = [],
): Promise<CreateOutcome> {
  const params = { header: { 'Idempotency-Key': key } };
  const { data, error, response } =
    photos.length > 0
      ? await client.POST('/api/v1/reports', {
          params,
          // The typed body is only what the contract names; the bytes sent are the form.
          body: { report: body, photo: [] },
          bodySerializer: () => reportFormData(body, photos),
        })
      : await client.POST('/api/v1/reports', { params, body });
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

/** The public photos of a report: residents' and the crew's photos of the work. */
export async function listReportPhotos(id: number): Promise<Photo[]> {
  return unwrap(await client.GET('/api/v1/reports/{id}/media', { params: { path: { id } } }));
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

/** Addresses of the city's own gazetteer matching what the resident typed, best first. */
export async function geocode(
  q: string,
  jurisdiction: string | undefined,
  signal?: AbortSignal,
): Promise<GeocodedAddress[]> {
  return unwrap(
    await client.GET('/api/v1/geocode', { params: { query: { q, jurisdiction, limit: 5 } }, signal }),
  ).items;
}

/** Follows an incident (`follow`) or stops (`!follow`), as this device. Harmless twice. */
export async function setFollowing(
  id: number,
  follow: boolean,
  body: FollowRequest,
): Promise<Outcome<null>> {
  const params = { path: { id } };
  const { error, response } = follow
    ? await client.POST('/api/v1/incidents/{id}/follow', { params, body })
    : await client.POST('/api/v1/incidents/{id}/unfollow', {
        params,
        body: { device_id: body.device_id },
      });
  if (response.ok) return { ok: true, status: response.status, data: null };
  return { ok: false, status: response.status, problem: toProblem(response.status, error) };
}

/** The incidents this device follows, as the server knows them (newest first). */
export async function listDeviceFollows(deviceId: string): Promise<FollowedIncident[]> {
  return unwrap(
    await client.GET('/api/v1/me/follows', { params: { header: { 'Device-Id': deviceId } } }),
  );
}

/** A page of an incident's public history, newest first. */
export async function getIncidentHistory(
  id: number,
  query: { cursor?: string; limit?: number } = {},
  signal?: AbortSignal,
): Promise<IncidentHistory> {
  return unwrap(
    await client.GET('/api/v1/incidents/{id}/events', { params: { path: { id }, query }, signal }),
  );
}

// --- staff: sign-in and the crew's jobs ---

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** What a staff call gave: the data, or the problem. Network failures throw (TypeError). */
export type Outcome<T> =
  | { ok: true; status: number; data: T }
  | { ok: false; status: number; problem: Problem };

function outcome<T>(result: { data?: T; error?: unknown; response: Response }): Outcome<T> {
  const { data, error, response } = result;
  if (response.ok && data !== undefined) return { ok: true, status: response.status, data };
  return { ok: false, status: response.status, problem: toProblem(response.status, error) };
}

export async function login(email: string, password: string): Promise<Outcome<Session>> {
  return outcome(await client.POST('/api/v1/auth/login', { body: { email, password } }));
}

export async function refreshSession(refreshToken: string): Promise<Outcome<Session>> {
  return outcome(
    await client.POST('/api/v1/auth/refresh', { body: { refresh_token: refreshToken } }),
  );
}

export async function logout(refreshToken: string): Promise<void> {
  await client.POST('/api/v1/auth/logout', { body: { refresh_token: refreshToken } });
}

export interface QueueQuery {
  lat?: number;
  long?: number;
  assignee?: string;
  limit?: number;
}

export async function getQueue(token: string, query: QueueQuery): Promise<Outcome<QueuePage>> {
  return outcome(
    await client.GET('/api/v1/queue', { params: { query }, headers: bearer(token) }),
  );
}

export async function getJob(token: string, id: number): Promise<Outcome<Job>> {
  return outcome(
    await client.GET('/api/v1/jobs/{id}', { params: { path: { id } }, headers: bearer(token) }),
  );
}

/** `If-Match` for a job's version, as its ETag is written. */
export const ifMatch = (version: number) => `"${version}"`;

export type JobAction =
  | { action: 'take' }
  | { action: 'release' }
  | { action: 'status'; change: StatusChange };

/** Takes, releases or moves a job, conditional on the version the crew saw. */
export async function postJobAction(
  token: string,
  id: number,
  version: number,
  act: JobAction,
): Promise<Outcome<Job>> {
  const params = { path: { id }, header: { 'If-Match': ifMatch(version) } };
  const headers = bearer(token);
  switch (act.action) {
    case 'take':
      return outcome(await client.POST('/api/v1/jobs/{id}/take', { params, headers }));
    case 'release':
      return outcome(await client.POST('/api/v1/jobs/{id}/release', { params, headers }));
    case 'status':
      return outcome(
        await client.POST('/api/v1/jobs/{id}/status', { params, headers, body: act.change }),
      );
  }
}

/** A photo of the work on a job (multipart `photo` parts). */
export async function addJobPhotos(
  token: string,
  id: number,
  photos: readonly Blob[],
): Promise<Outcome<Photo[]>> {
  return outcome(
    await client.POST('/api/v1/jobs/{id}/media', {
      params: { path: { id } },
      headers: bearer(token),
      body: { photo: [] },
      bodySerializer: () => {
        const form = new FormData();
        photos.forEach((photo, i) => form.append('photo', photo, `work-${i + 1}.jpg`));
        return form;
      },
    }),
  );
}
