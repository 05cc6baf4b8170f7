//! The Boston demo city: its catalog (`catalog.toml`), the 26 neighborhoods as service areas,
//! and the real 311 cases of January–April 2015 as historical reports. Loading is idempotent.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use chrono::NaiveDateTime;
use geo::{Contains, Point};
use serde::Deserialize;
use signalons_db::{
    AsyncPgConnection, QueryResult,
    catalog::routing_rules,
    import::{
        CategorySeed, DepartmentSeed, HistoricalReport, JurisdictionSeed, RouteTarget,
        ServiceAreaSeed, insert_historical_reports, place_many, seed_category, seed_department,
        seed_route, set_default_department, upsert_jurisdiction, upsert_service_area,
    },
};
use signalons_domain::{
    Description, Latitude, Longitude, ReportStatus,
    areas::{AreaFeature, parse_areas},
    routing::{RoutingQuestion, choose_department},
};

/// The file names inside the demo directory.
pub const CATALOG_FILE: &str = "catalog.toml";
pub const NEIGHBORHOODS_FILE: &str = "neighborhoods.geojson";
pub const CASES_FILE: &str = "requests-2015-01-to-04.csv";

/// Boston's placeholder for "no location" (City Hall); not a real position.
pub(crate) const PLACEHOLDER: (f64, f64) = (42.3594, -71.0587);
const BATCH: usize = 2000;

/// Why the demo could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid catalog: {source}")]
    Catalog {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{path} is not valid GeoJSON: {detail}")]
    GeoJson { path: PathBuf, detail: String },
    #[error("{path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    #[error("{path} is not a Boston 311 export: no column {missing}")]
    MissingColumns { path: PathBuf, missing: String },
    #[error("catalog: {0}")]
    Inconsistent(String),
    #[error("database: {0}")]
    Database(#[from] signalons_db::DbError),
}

/// `catalog.toml`: the city, its departments and categories, and which Boston case types map to
/// which category.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub jurisdiction: JurisdictionEntry,
    pub departments: Vec<DepartmentEntry>,
    pub categories: Vec<CategoryEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JurisdictionEntry {
    pub slug: String,
    pub name: String,
    pub locale: String,
    pub time_zone: String,
    pub default_department: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentEntry {
    pub code: String,
    pub name: String,
    pub name_fr: String,
    pub channel: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryEntry {
    pub code: String,
    pub name: String,
    pub name_fr: String,
    pub description: String,
    pub description_fr: String,
    pub group: String,
    pub dedup_group: String,
    pub department: String,
    pub default_priority: i16,
    pub dedup_radius_m: i32,
    pub dedup_window_days: i32,
    pub allow_anonymous: bool,
    /// Days a problem of this kind may wait (its service level), if promised.
    #[serde(default)]
    pub sla_days: Option<i32>,
    pub boston_types: Vec<String>,
    /// Open311 attribute definitions (extra questions), as GeoReport v2 spells them.
    #[serde(default)]
    pub attributes: Vec<serde_json::Value>,
}

fn read(path: &Path) -> Result<String, DemoError> {
    std::fs::read_to_string(path).map_err(|source| DemoError::Read {
        path: path.into(),
        source,
    })
}

impl Catalog {
    pub fn load(dir: &Path) -> Result<Self, DemoError> {
        let path = dir.join(CATALOG_FILE);
        toml::from_str(&read(&path)?).map_err(|source| DemoError::Catalog {
            path,
            source: Box::new(source),
        })
    }

    /// The category code of each Boston case type.
    fn category_of_type(&self) -> HashMap<&str, &str> {
        self.categories
            .iter()
            .flat_map(|c| c.boston_types.iter().map(|t| (t.as_str(), c.code.as_str())))
            .collect()
    }
}

/// A neighborhood: a checked service-area polygon.
pub type Neighborhood = AreaFeature;

/// The neighborhoods of `neighborhoods.geojson` (each named by its `Name` property).
pub fn load_neighborhoods(dir: &Path) -> Result<Vec<Neighborhood>, DemoError> {
    let path = dir.join(NEIGHBORHOODS_FILE);
    let invalid = |detail: String| DemoError::GeoJson {
        path: path.clone(),
        detail,
    };
    let document: serde_json::Value =
        serde_json::from_str(&read(&path)?).map_err(|e| invalid(e.to_string()))?;
    parse_areas(&document, "Name").map_err(|violation| invalid(violation.to_string()))
}

/// One row of the Boston 311 CSV, as far as the demo needs it.
#[derive(Debug, Deserialize)]
struct CaseRow {
    case_enquiry_id: String,
    open_dt: String,
    closed_dt: String,
    case_status: String,
    closure_reason: String,
    case_title: String,
    #[serde(rename = "type")]
    case_type: String,
    queue: String,
    department: String,
    location: String,
    latitude: String,
    longitude: String,
}

/// A Boston case ready to load, before routing.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub category: String,
    pub latitude: f64,
    pub longitude: f64,
    pub address: Option<String>,
    pub title: String,
    pub status: ReportStatus,
    pub opened_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub closure_reason: String,
    /// The city's work queue, e.g. `PWDx_District 03: North Dorchester`.
    pub queue: String,
    /// The city's department code, e.g. `PWDx`.
    pub department: String,
}

/// A case time: ISO 8601 local time, with `T` or a space before the time, whole or fractional
/// seconds, and an offset if one is written (then ignored: Boston's times are local).
fn parse_local_time(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .or_else(|| {
            ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z"]
                .iter()
                .find_map(|format| chrono::DateTime::parse_from_str(text, format).ok())
                .map(|time| time.naive_local())
        })
}

/// A coordinate written in a case: a finite number.
fn parse_coordinate(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

fn collapse_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a crew closed the case as a duplicate of another.
pub fn closed_as_duplicate(closure_reason: &str) -> bool {
    closure_reason.to_ascii_lowercase().contains("duplicate")
}

impl Case {
    /// The case a crew named as the original when closing this one as a duplicate: Boston's
    /// case numbers are 12 digits starting with 1010.
    pub fn named_original(&self) -> Option<&str> {
        if self.status != ReportStatus::Duplicate {
            return None;
        }
        let bytes = self.closure_reason.as_bytes();
        (0..bytes.len().saturating_sub(11)).find_map(|start| {
            let candidate = &self.closure_reason[start..start + 12];
            let bounded = start == 0 || !bytes[start - 1].is_ascii_digit();
            let whole = bytes.get(start + 12).is_none_or(|b| !b.is_ascii_digit());
            (bounded
                && whole
                && candidate.starts_with("1010")
                && candidate.bytes().all(|b| b.is_ascii_digit()))
            .then_some(candidate)
        })
    }

    fn from_row(row: CaseRow, category_of_type: &HashMap<&str, &str>) -> Result<Self, Unread> {
        let category = (*category_of_type
            .get(row.case_type.trim())
            .or_else(|| category_of_type.get(row.case_type.as_str()))
            .ok_or(Unread::UnmodelledType)?)
        .to_owned();
        let latitude = parse_coordinate(&row.latitude)
            .filter(|lat| Latitude::new(*lat).is_ok())
            .ok_or(Unread::NoLocation)?;
        let longitude = parse_coordinate(&row.longitude)
            .filter(|lon| Longitude::new(*lon).is_ok())
            .ok_or(Unread::NoLocation)?;
        if (latitude, longitude) == PLACEHOLDER {
            return Err(Unread::NoLocation);
        }
        let opened_at = parse_local_time(&row.open_dt).ok_or(Unread::NoOpeningTime)?;
        let closed_at = parse_local_time(&row.closed_dt).filter(|closed| *closed >= opened_at);
        let closed = row.case_status.eq_ignore_ascii_case("closed") && closed_at.is_some();
        let status = match (closed, closed_as_duplicate(&row.closure_reason)) {
            (false, _) => ReportStatus::Submitted,
            (true, true) => ReportStatus::Duplicate,
            (true, false) => ReportStatus::Resolved,
        };
        let address = Some(collapse_spaces(&row.location)).filter(|a| !a.is_empty());
        Ok(Self {
            id: row.case_enquiry_id.trim().to_owned(),
            category,
            latitude,
            longitude,
            address: address.map(|a| a.chars().take(300).collect()),
            title: collapse_spaces(&row.case_title),
            status,
            opened_at,
            closed_at: closed_at.filter(|_| closed),
            closure_reason: collapse_spaces(&row.closure_reason),
            queue: row.queue.trim().to_owned(),
            department: row.department.trim().to_owned(),
        })
    }
}

/// Why a row of an export did not become a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unread {
    /// A row the CSV reader could not read (a wrong number of fields, invalid UTF-8).
    Malformed,
    /// A case type no category of the catalog models.
    UnmodelledType,
    /// No coordinates, coordinates out of range, or the City Hall placeholder.
    NoLocation,
    NoOpeningTime,
}

/// The columns a Boston 311 export must have.
const REQUIRED_COLUMNS: &[&str] = &[
    "case_enquiry_id",
    "open_dt",
    "closed_dt",
    "case_status",
    "closure_reason",
    "case_title",
    "type",
    "queue",
    "department",
    "location",
    "latitude",
    "longitude",
];

/// The cases of an export, and how many rows were left out and why.
#[derive(Debug, Clone, Default)]
pub struct CaseFile {
    /// The located cases of the catalog's categories, in time order.
    pub cases: Vec<Case>,
    pub rows: usize,
    pub malformed_rows: usize,
    /// Cases of types the catalog does not model.
    pub unmodelled_type: usize,
    /// Cases without a usable position (empty, out of range, or the City Hall placeholder).
    pub no_location: usize,
    pub no_opening_time: usize,
}

/// Reads a Boston 311 CSV export (extra columns are ignored; a row that cannot be read is
/// counted and skipped, never fatal).
pub fn read_cases(path: &Path, catalog: &Catalog) -> Result<CaseFile, DemoError> {
    let path = path.to_path_buf();
    let csv_error = |source| DemoError::Csv {
        path: path.clone(),
        source,
    };
    let category_of_type = catalog.category_of_type();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_path(&path)
        .map_err(csv_error)?;
    let headers = reader.headers().map_err(csv_error)?.clone();
    if let Some(missing) = REQUIRED_COLUMNS
        .iter()
        .find(|column| !headers.iter().any(|h| h == **column))
    {
        return Err(DemoError::MissingColumns {
            path,
            missing: (*missing).to_owned(),
        });
    }
    let mut file = CaseFile::default();
    for row in reader.deserialize::<CaseRow>() {
        file.rows += 1;
        let outcome = row
            .map_err(|_| Unread::Malformed)
            .and_then(|row| Case::from_row(row, &category_of_type));
        match outcome {
            Ok(case) => file.cases.push(case),
            Err(Unread::Malformed) => file.malformed_rows += 1,
            Err(Unread::UnmodelledType) => file.unmodelled_type += 1,
            Err(Unread::NoLocation) => file.no_location += 1,
            Err(Unread::NoOpeningTime) => file.no_opening_time += 1,
        }
    }
    file.cases.sort_by_key(|case| case.opened_at);
    Ok(file)
}

/// The located cases of the catalog's categories in a Boston 311 CSV export, in time order.
pub fn load_cases(path: &Path, catalog: &Catalog) -> Result<Vec<Case>, DemoError> {
    read_cases(path, catalog).map(|file| file.cases)
}

/// A Public Works district crew, from a queue name such as
/// `PWDx_District 03: North Dorchester`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct District {
    /// `PWD_D03`
    pub code: String,
    /// `Public Works District 03: North Dorchester`
    pub name: String,
    pub name_fr: String,
}

impl District {
    pub fn from_queue(queue: &str) -> Option<Self> {
        let rest = queue.strip_prefix("PWDx_District ")?;
        let (number, place) = rest.split_once(':')?;
        let number = number.trim();
        let valid = !number.is_empty()
            && number.len() <= 3
            && number.chars().all(|c| c.is_ascii_alphanumeric());
        valid.then(|| Self {
            code: format!("PWD_D{}", number.to_ascii_uppercase()),
            name: format!("Public Works District {number}:{place}"),
            name_fr: format!("Travaux publics, district {number} :{place}"),
        })
    }
}

/// The department the city itself gave a case: its Public Works district when it went to a
/// district queue, else its department code without Boston's trailing `x`.
pub fn city_department(case: &Case) -> String {
    District::from_queue(&case.queue)
        .map(|district| district.code)
        .unwrap_or_else(|| case.department.trim_end_matches('x').to_owned())
}

/// A route the cases show: `category` in `area` goes to `district`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistrictRoute {
    pub category: String,
    pub area: String,
    pub district: District,
}

/// Public Works routes by area: a category whose cases most often went to a district queue is
/// routed, in each neighborhood, to the district that handled most of that neighborhood's
/// district cases.
pub fn derive_district_routes(
    cases: &[Case],
    neighborhoods: &[Neighborhood],
) -> Vec<DistrictRoute> {
    let mut by_category: HashMap<&str, HashMap<String, usize>> = HashMap::new();
    let mut by_area: HashMap<&str, HashMap<District, usize>> = HashMap::new();
    for case in cases {
        let district = District::from_queue(&case.queue);
        let bucket = match &district {
            Some(_) => "district".to_owned(),
            None => case.department.clone(),
        };
        *by_category
            .entry(&case.category)
            .or_default()
            .entry(bucket)
            .or_default() += 1;
        let point = Point::new(case.longitude, case.latitude);
        if let (Some(district), Some(area)) = (
            district,
            neighborhoods.iter().find(|n| n.shape.contains(&point)),
        ) {
            *by_area
                .entry(&area.code)
                .or_default()
                .entry(district)
                .or_default() += 1;
        }
    }
    let majority = |counts: &HashMap<District, usize>| {
        counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.code.cmp(&a.0.code)))
            .map(|(district, _)| district.clone())
    };
    let mut district_categories: Vec<&str> = by_category
        .iter()
        .filter(|(_, counts)| {
            let district = counts.get("district").copied().unwrap_or_default();
            counts
                .iter()
                .all(|(bucket, count)| bucket == "district" || *count < district)
        })
        .map(|(category, _)| *category)
        .collect();
    district_categories.sort_unstable();
    let mut routes = Vec::new();
    for area in neighborhoods {
        let Some(district) = by_area.get(area.code.as_str()).and_then(majority) else {
            continue;
        };
        for category in &district_categories {
            routes.push(DistrictRoute {
                category: (*category).to_owned(),
                area: area.code.clone(),
                district: district.clone(),
            });
        }
    }
    routes
}

/// What loading the demo did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub jurisdiction_id: i64,
    pub departments: usize,
    pub categories: usize,
    pub service_areas: usize,
    /// Routes to Public Works districts by neighborhood, derived from the cases.
    pub area_routes: usize,
    pub cases_read: usize,
    pub reports_inserted: usize,
    /// Addresses of the gazetteer, measured from the cases' positions.
    pub addresses: usize,
}

/// Loads the catalog and the neighborhoods (not the cases) and returns the jurisdiction's id
/// with the category ids by code.
pub async fn load_catalog(
    conn: &mut AsyncPgConnection,
    catalog: &Catalog,
    neighborhoods: &[Neighborhood],
    district_routes: &[DistrictRoute],
    summary: &mut DemoSummary,
) -> Result<HashMap<String, (i64, i16)>, DemoError> {
    let city = &catalog.jurisdiction;
    let boundary: Vec<String> = neighborhoods.iter().map(|n| n.geometry.clone()).collect();
    let jurisdiction = upsert_jurisdiction(
        conn,
        &JurisdictionSeed {
            slug: &city.slug,
            name: &city.name,
            locale: &city.locale,
            time_zone: &city.time_zone,
        },
        &boundary,
    )
    .await?;
    summary.jurisdiction_id = jurisdiction;
    let mut areas = HashMap::new();
    for area in neighborhoods {
        let seed = ServiceAreaSeed {
            code: &area.code,
            name: &area.name,
            kind: "neighborhood",
            priority: 0,
            geojson: &area.geometry,
        };
        areas.insert(
            area.code.as_str(),
            upsert_service_area(conn, jurisdiction, &seed).await?,
        );
    }
    summary.service_areas = neighborhoods.len();

    let mut departments = HashMap::new();
    let districts = district_routes.iter().map(|route| &route.district);
    let entries = catalog
        .departments
        .iter()
        .map(|d| {
            (
                d.code.as_str(),
                d.name.as_str(),
                d.name_fr.as_str(),
                d.channel.as_str(),
            )
        })
        .chain(districts.map(|d| {
            (
                d.code.as_str(),
                d.name.as_str(),
                d.name_fr.as_str(),
                "internal",
            )
        }));
    for (code, name, name_fr, channel) in entries {
        if departments.contains_key(code) {
            continue;
        }
        let names = serde_json::json!({ "en": name, "fr": name_fr });
        let seed = DepartmentSeed {
            code,
            name,
            names,
            channel,
            channel_config: serde_json::json!({}),
        };
        departments.insert(code, seed_department(conn, jurisdiction, &seed).await?);
    }
    summary.departments = departments.len();
    let department = |code: &str| {
        departments
            .get(code)
            .copied()
            .ok_or_else(|| DemoError::Inconsistent(format!("unknown department {code}")))
    };
    set_default_department(conn, jurisdiction, department(&city.default_department)?).await?;

    let mut categories = HashMap::new();
    for entry in &catalog.categories {
        let seed = CategorySeed {
            code: &entry.code,
            name: &entry.name,
            names: serde_json::json!({ "en": entry.name, "fr": entry.name_fr }),
            description: &entry.description,
            descriptions: serde_json::json!({ "en": entry.description, "fr": entry.description_fr }),
            group_name: &entry.group,
            dedup_group: &entry.dedup_group,
            default_priority: entry.default_priority,
            dedup_radius_m: entry.dedup_radius_m,
            dedup_window_days: entry.dedup_window_days,
            allow_anonymous: entry.allow_anonymous,
            sla_days: entry.sla_days,
            attributes: serde_json::Value::Array(entry.attributes.clone()),
        };
        let id = seed_category(conn, jurisdiction, &seed).await?;
        seed_route(
            conn,
            jurisdiction,
            RouteTarget::Category(id),
            None,
            department(&entry.department)?,
        )
        .await?;
        categories.insert(entry.code.clone(), (id, entry.default_priority));
    }
    summary.categories = categories.len();
    for route in district_routes {
        let (Some((category, _)), Some(area)) = (
            categories.get(&route.category),
            areas.get(route.area.as_str()),
        ) else {
            continue;
        };
        let district = department(&route.district.code)?;
        seed_route(
            conn,
            jurisdiction,
            RouteTarget::Category(*category),
            Some(*area),
            district,
        )
        .await?;
    }
    summary.area_routes = district_routes.len();
    Ok(categories)
}

/// The cases placed in their service areas and routed by the same rules as new reports, ready
/// to load (cases of a category the catalog does not know are left out).
pub async fn route_cases(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    categories: &HashMap<String, (i64, i16)>,
    dedup_groups: &HashMap<String, String>,
    cases: &[Case],
) -> QueryResult<Vec<HistoricalReport>> {
    let (rules, default_department) = routing_rules(conn, jurisdiction).await?;
    let mut routed = Vec::with_capacity(cases.len());
    for batch in cases.chunks(BATCH) {
        let points: Vec<(f64, f64)> = batch.iter().map(|c| (c.longitude, c.latitude)).collect();
        let areas = place_many(conn, jurisdiction, &points).await?;
        routed.extend(batch.iter().zip(areas).filter_map(|(case, area)| {
            let (category_id, priority) = *categories.get(&case.category)?;
            let dedup_group = dedup_groups.get(&case.category)?;
            let question = RoutingQuestion {
                category_id,
                dedup_group,
                service_area_id: area,
            };
            let description = Description::new(&case.title).unwrap_or_default();
            Some(HistoricalReport {
                external_id: case.id.clone(),
                category_id,
                longitude: case.longitude,
                latitude: case.latitude,
                address: case.address.clone(),
                description: description.as_str().to_owned(),
                status: case.status.as_str(),
                priority,
                department_id: choose_department(&rules, question, default_department),
                service_area_id: area,
                opened_at: case.opened_at,
                closed_at: case.closed_at,
                closure_note: case.closure_reason.chars().take(4000).collect(),
            })
        }));
    }
    Ok(routed)
}

/// Loads the historical cases, routed by the same rules as new reports.
pub async fn load_history(
    conn: &mut AsyncPgConnection,
    jurisdiction: i64,
    categories: &HashMap<String, (i64, i16)>,
    dedup_groups: &HashMap<String, String>,
    cases: &[Case],
) -> QueryResult<usize> {
    let routed = route_cases(conn, jurisdiction, categories, dedup_groups, cases).await?;
    let mut inserted = 0;
    for batch in routed.chunks(BATCH) {
        inserted += insert_historical_reports(conn, jurisdiction, batch).await?;
    }
    Ok(inserted)
}

/// The demo's files read and its catalog stored (idempotent): what loading cases needs.
#[derive(Debug)]
pub struct DemoCatalog {
    pub summary: DemoSummary,
    /// The located cases of the catalog's categories, in time order.
    pub cases: Vec<Case>,
    /// Category id and default priority by code.
    pub categories: HashMap<String, (i64, i16)>,
    /// Dedup group by category code.
    pub dedup_groups: HashMap<String, String>,
}

/// Reads the demo in `dir` and stores its catalog and neighborhoods (not the cases).
pub async fn load_demo_catalog(
    conn: &mut AsyncPgConnection,
    dir: &Path,
) -> Result<DemoCatalog, DemoError> {
    let catalog = Catalog::load(dir)?;
    let neighborhoods = load_neighborhoods(dir)?;
    let cases = load_cases(&dir.join(CASES_FILE), &catalog)?;
    let district_routes = derive_district_routes(&cases, &neighborhoods);
    let mut summary = DemoSummary::default();
    let categories = load_catalog(
        conn,
        &catalog,
        &neighborhoods,
        &district_routes,
        &mut summary,
    )
    .await?;
    summary.cases_read = cases.len();
    let dedup_groups = catalog
        .categories
        .iter()
        .map(|c| (c.code.clone(), c.dedup_group.clone()))
        .collect();
    Ok(DemoCatalog {
        summary,
        cases,
        categories,
        dedup_groups,
    })
}

/// Loads the whole demo from `dir`: catalog, neighborhoods and the gazetteer of the cases'
/// addresses; `with_history` adds the 2015 cases as reports.
pub async fn load(
    conn: &mut AsyncPgConnection,
    dir: &Path,
    with_history: bool,
) -> Result<DemoSummary, DemoError> {
    let demo = load_demo_catalog(conn, dir).await?;
    let mut summary = demo.summary;
    let addresses = crate::gazetteer::entries(&dir.join(CASES_FILE))?;
    for batch in addresses.chunks(BATCH) {
        summary.addresses +=
            signalons_db::gazetteer::upsert(conn, summary.jurisdiction_id, batch).await?;
    }
    if with_history {
        summary.reports_inserted = load_history(
            conn,
            summary.jurisdiction_id,
            &demo.categories,
            &demo.dedup_groups,
            &demo.cases,
        )
        .await?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/boston-2015")
    }

    #[test]
    fn named_originals_are_12_digit_boston_case_numbers() {
        let catalog = Catalog::load(&demo_dir()).unwrap();
        let cases = load_cases(&demo_dir().join(CASES_FILE), &catalog).unwrap();
        let named: Vec<_> = cases.iter().filter_map(Case::named_original).collect();
        assert!(named.len() > 100, "{}", named.len());
        assert!(
            named
                .iter()
                .all(|id| id.len() == 12 && id.starts_with("1010"))
        );
        let resolved = cases
            .iter()
            .find(|c| c.status == ReportStatus::Resolved)
            .unwrap();
        assert_eq!(resolved.named_original(), None);
    }

    #[test]
    fn district_queues_name_their_crews() {
        let district = District::from_queue("PWDx_District 03: North Dorchester").unwrap();
        assert_eq!(district.code, "PWD_D03");
        assert_eq!(district.name, "Public Works District 03: North Dorchester");
        assert_eq!(
            District::from_queue("PWDx_District 1C: Downtown")
                .unwrap()
                .code,
            "PWD_D1C"
        );
        assert_eq!(District::from_queue("PWDx_Street Light Outages"), None);
    }

    #[test]
    fn potholes_route_to_districts_and_street_lights_stay_central() {
        let dir = demo_dir();
        let catalog = Catalog::load(&dir).unwrap();
        let cases = load_cases(&dir.join(CASES_FILE), &catalog).unwrap();
        let routes = derive_district_routes(&cases, &load_neighborhoods(&dir).unwrap());
        let pothole_areas = routes.iter().filter(|r| r.category == "pothole").count();
        assert!(
            pothole_areas >= 20,
            "{pothole_areas} neighborhoods route potholes to a district"
        );
        assert!(routes.iter().all(|r| r.category != "street_light_out"));
        let in_dorchester = routes
            .iter()
            .find(|r| r.category == "pothole" && r.area == "dorchester")
            .unwrap();
        assert!(
            in_dorchester.district.name.contains("Dorchester"),
            "{:?}",
            in_dorchester.district
        );
    }

    #[test]
    fn slugs_are_url_safe() {
        use signalons_domain::areas::slug;
        assert_eq!(slug("Fenway / Kenmore"), "fenway-kenmore");
        assert_eq!(slug("South Boston Waterfront"), "south-boston-waterfront");
    }

    #[test]
    fn the_committed_catalog_is_consistent() {
        let catalog = Catalog::load(&demo_dir()).unwrap();
        let departments: Vec<_> = catalog
            .departments
            .iter()
            .map(|d| d.code.as_str())
            .collect();
        assert!(departments.contains(&catalog.jurisdiction.default_department.as_str()));
        let mut types = std::collections::HashSet::new();
        for category in &catalog.categories {
            assert!(
                signalons_domain::CategoryCode::new(&category.code).is_ok(),
                "{}",
                category.code
            );
            assert!(
                departments.contains(&category.department.as_str()),
                "{}",
                category.code
            );
            assert!((1..=5).contains(&category.default_priority));
            for t in &category.boston_types {
                assert!(types.insert(t.clone()), "type {t} mapped twice");
            }
        }
    }

    #[test]
    fn the_26_neighborhoods_load_with_unique_codes() {
        let areas = load_neighborhoods(&demo_dir()).unwrap();
        assert_eq!(areas.len(), 26);
        let codes: std::collections::HashSet<_> = areas.iter().map(|a| &a.code).collect();
        assert_eq!(codes.len(), 26);
    }

    #[test]
    fn cases_skip_the_city_hall_placeholder_and_map_statuses() {
        let catalog = Catalog::load(&demo_dir()).unwrap();
        let cases = load_cases(&demo_dir().join(CASES_FILE), &catalog).unwrap();
        assert!(cases.len() > 15_000, "{} cases", cases.len());
        assert!(
            cases
                .iter()
                .all(|c| (c.latitude, c.longitude) != PLACEHOLDER)
        );
        assert!(cases.iter().any(|c| c.status == ReportStatus::Duplicate));
        assert!(cases.iter().any(|c| c.status == ReportStatus::Submitted));
        assert!(
            cases
                .iter()
                .filter(|c| c.status.is_closed())
                .all(|c| c.closed_at.is_some())
        );
    }

    fn write_export(name: &str, text: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("signalons-{}-{name}.csv", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn any_export_of_the_same_columns_reads_and_odd_rows_are_counted_not_fatal() {
        let catalog = Catalog::load(&demo_dir()).unwrap();
        // Columns in another order, padded, with one the demo does not use.
        let header = "longitude , latitude,type,case_enquiry_id,open_dt,closed_dt,case_status,\
                      closure_reason,case_title,queue,department,location,source";
        let row = |lon: &str,
                   lat: &str,
                   kind: &str,
                   id: &str,
                   open: &str,
                   closed: &str,
                   status: &str| {
            format!(
                "{lon},{lat},{kind},{id},{open},{closed},{status},Case Resolved,Street Light Outages,\
                 PWDx_Street Light Outages,PWDx,1 Charles St  Boston  MA  02116,App"
            )
        };
        let light = "Street Light Outages";
        let rows = [
            row(
                "-71.07",
                "42.356",
                light,
                "101001000001",
                "2015-02-01T08:00:00",
                "2015-02-02T08:00:00",
                "Closed",
            ),
            row(
                "",
                "",
                light,
                "101001000002",
                "2015-02-01T09:00:00",
                "",
                "Open",
            ),
            row(
                "-71.0587",
                "42.3594",
                light,
                "101001000003",
                "2015-02-01T09:00:00",
                "",
                "Open",
            ),
            row(
                "-71.07",
                "42.356",
                light,
                "101001000004",
                "2015-02-01T10:00:00",
                "",
                "Open",
            ),
            row(
                "-71.07",
                "42.356",
                "Unknown Kind",
                "101001000005",
                "2015-02-01T10:00:00",
                "",
                "Open",
            ),
            row(
                "-71.07",
                "NaN",
                light,
                "101001000006",
                "2015-02-01T10:00:00",
                "",
                "Open",
            ),
            row(
                "-71.07",
                "95",
                light,
                "101001000007",
                "2015-02-01T10:00:00",
                "",
                "Open",
            ),
            row(
                "-71.07",
                "42.356",
                light,
                "101001000008",
                "yesterday",
                "",
                "Open",
            ),
            "-71.07,42.356,Street Light Outages".to_owned(),
            row(
                "-71.07",
                "42.356",
                light,
                "101001000010",
                "2015-01-31 07:00:00.000",
                "",
                "Open",
            ),
            // Closed before it opened: kept as open.
            row(
                "-71.07",
                "42.356",
                light,
                "101001000011",
                "2015-02-03T10:00:00",
                "2015-02-01T10:00:00",
                "Closed",
            ),
        ];
        let path = write_export("odd", &format!("{header}\n{}\n", rows.join("\n")));
        let file = read_cases(&path, &catalog).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(file.rows, 11);
        assert_eq!(
            (
                file.malformed_rows,
                file.unmodelled_type,
                file.no_location,
                file.no_opening_time
            ),
            (1, 1, 4, 1)
        );
        let ids: Vec<&str> = file.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "101001000010",
                "101001000001",
                "101001000004",
                "101001000011"
            ]
        );
        assert_eq!(file.cases[1].status, ReportStatus::Resolved);
        assert!(file.cases[2].closed_at.is_none());
        assert_eq!(file.cases[3].status, ReportStatus::Submitted);
        assert_eq!(file.cases[3].closed_at, None);

        let path = write_export(
            "columns",
            "case_enquiry_id,open_dt\n1,2015-01-01T00:00:00\n",
        );
        let refused = read_cases(&path, &catalog);
        std::fs::remove_file(&path).unwrap();
        assert!(
            matches!(&refused, Err(DemoError::MissingColumns { missing, .. }) if missing == "closed_dt"),
            "{refused:?}"
        );
    }
}
