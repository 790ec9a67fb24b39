//! The on-demand worklist: which patients' records must be scanned before
//! which clinic, read from the EHR's FHIR `Appointment` searchset (with the
//! patients and locations `_include`d). Pure: searchset pages in, an ordered
//! list out; fetching, caching and showing it live elsewhere.
//!
//! What comes from the EHR is evidence: names and clinics are kept as they
//! came (callers print them through [`crate::batch::printable`]); an NHS number
//! is kept only when its check digit holds, and otherwise said why.

use super::identifiers::{NhsCheck, check_nhs_number};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use time::{Duration, OffsetDateTime, UtcOffset, Weekday};

/// NHS England's identifier system for NHS numbers.
pub const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

/// Appointment states that still need the record (FHIR R4's value set, less
/// cancelled, noshow, entered-in-error and fulfilled).
const WANTED: &[&str] = &[
    "proposed",
    "pending",
    "booked",
    "arrived",
    "checked-in",
    "waitlist",
];

/// One patient to scan for, before one appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItem {
    /// The Appointment's logical id.
    pub appointment_id: String,
    /// When the appointment starts.
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    /// When the record must be in the store: the start less the lead time.
    #[serde(with = "time::serde::rfc3339")]
    pub deadline: OffsetDateTime,
    /// The clinic (the Location's name, else the service type), as given.
    pub clinic: String,
    /// The Patient's reference (`Patient/<id>`).
    pub patient_ref: String,
    /// The NHS number, only when its check digit holds.
    pub nhs_number: Option<String>,
    /// Why there is no NHS number (none given, a wrong check digit).
    pub nhs_problem: Option<String>,
    /// The patient's name as the EHR gives it.
    pub name: String,
}

/// How soon an item is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Its deadline has passed.
    Overdue,
    /// Its deadline is later today (the station's day).
    DueToday,
    Later,
}

impl WorkItem {
    pub fn urgency(&self, now: OffsetDateTime, local: UtcOffset) -> Urgency {
        if self.deadline <= now {
            Urgency::Overdue
        } else if self.deadline.to_offset(local).date() == now.to_offset(local).date() {
            Urgency::DueToday
        } else {
            Urgency::Later
        }
    }
}

/// A scan of the patient on this station, as the worklist marks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalScan {
    pub batch_id: String,
    /// When its batch was started.
    pub scanned_at: String,
    /// Where its upload stands (None: not approved for upload yet).
    pub outbox: Option<super::OutboxState>,
    /// Started from this very appointment's entry.
    pub for_this_appointment: bool,
}

/// One line of the worklist as shown: the item, how soon it is due, and
/// what the station and the central store know of the patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    #[serde(flatten)]
    pub item: WorkItem,
    pub urgency: Urgency,
    /// Whether the central store holds documents for the patient (None: it
    /// was not asked, or could not say).
    pub in_store: Option<bool>,
    /// The newest scan of the patient here: one started from this entry if
    /// any, else the newest record with the patient's NHS number.
    pub scanned: Option<LocalScan>,
    /// A record scanned from this entry is delivered to the store, verified.
    pub done: bool,
}

/// The worklist's rows, in the items' order: each item with its urgency at
/// `now`, the store's answer by NHS number, and the newest local scan (one
/// linked to the appointment first, then one found by NHS number).
pub fn rows(
    items: &[WorkItem],
    in_store: &std::collections::BTreeMap<String, bool>,
    linked: &HashMap<String, LocalScan>,
    by_nhs: &HashMap<String, LocalScan>,
    now: OffsetDateTime,
    local: UtcOffset,
) -> Vec<Row> {
    items
        .iter()
        .map(|i| {
            let scanned = linked.get(&i.appointment_id).cloned().or_else(|| {
                i.nhs_number
                    .as_ref()
                    .and_then(|n| by_nhs.get(n))
                    .cloned()
                    .map(|s| LocalScan {
                        for_this_appointment: false,
                        ..s
                    })
            });
            let done = scanned.as_ref().is_some_and(|s| {
                s.for_this_appointment && s.outbox == Some(super::OutboxState::Done)
            });
            Row {
                urgency: i.urgency(now, local),
                in_store: i.nhs_number.as_ref().and_then(|n| in_store.get(n).copied()),
                scanned,
                done,
                item: i.clone(),
            }
        })
        .collect()
}

/// Why a searchset page cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotASearchset(pub String);

/// The worklist in a searchset's pages: every Appointment still wanted, with
/// its patient, in deadline order (then start, then name). Appointments
/// without a start or a patient are left out and counted in the second value.
pub fn read_searchset(
    pages: &[Value],
    lead: Duration,
) -> Result<(Vec<WorkItem>, usize), NotASearchset> {
    let mut resources = Vec::new();
    for (n, page) in pages.iter().enumerate() {
        if page["resourceType"] != "Bundle" || page["type"] != "searchset" {
            return Err(NotASearchset(format!(
                "page {} of the answer is not a FHIR searchset Bundle",
                n + 1
            )));
        }
        for e in page["entry"].as_array().into_iter().flatten() {
            resources.push((e["fullUrl"].as_str().unwrap_or_default(), &e["resource"]));
        }
    }
    // Included resources by every name a reference may use.
    let mut by_ref: HashMap<String, &Value> = HashMap::new();
    for (full_url, r) in &resources {
        if let (Some(t), Some(id)) = (r["resourceType"].as_str(), r["id"].as_str()) {
            by_ref.insert(format!("{t}/{id}"), r);
        }
        if !full_url.is_empty() {
            by_ref.insert((*full_url).to_string(), r);
        }
    }
    let mut items = Vec::new();
    let mut skipped = 0;
    let mut seen = std::collections::HashSet::new();
    for (_, r) in &resources {
        if r["resourceType"] != "Appointment" {
            continue;
        }
        let id = r["id"].as_str().unwrap_or_default().to_string();
        // A server may repeat an entry across pages.
        if !seen.insert(id.clone()) || !WANTED.contains(&r["status"].as_str().unwrap_or("")) {
            continue;
        }
        match item(r, id, &by_ref, lead) {
            Some(i) => items.push(i),
            None => skipped += 1,
        }
    }
    items.sort_by(|a, b| {
        (a.deadline, a.start, &a.name, &a.appointment_id).cmp(&(
            b.deadline,
            b.start,
            &b.name,
            &b.appointment_id,
        ))
    });
    Ok((items, skipped))
}

fn item(
    r: &Value,
    appointment_id: String,
    by_ref: &HashMap<String, &Value>,
    lead: Duration,
) -> Option<WorkItem> {
    let start = r["start"].as_str().and_then(|s| {
        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    })?;
    let actors: Vec<&str> = r["participant"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["actor"]["reference"].as_str())
        .collect();
    let patient_ref = actors
        .iter()
        .find(|a| a.starts_with("Patient/") || a.contains("/Patient/"))?
        .to_string();
    let patient = by_ref.get(&patient_ref).copied().unwrap_or(&Value::Null);
    let clinic = actors
        .iter()
        .filter(|a| a.starts_with("Location/") || a.contains("/Location/"))
        .find_map(|a| by_ref.get(*a)?["name"].as_str())
        .or_else(|| r["serviceType"][0]["text"].as_str())
        .or_else(|| r["serviceType"][0]["coding"][0]["display"].as_str())
        .unwrap_or_default()
        .to_string();
    let (nhs_number, nhs_problem) = nhs_number(patient);
    Some(WorkItem {
        appointment_id,
        start,
        deadline: start - lead,
        clinic,
        patient_ref,
        nhs_number,
        nhs_problem,
        name: name(patient),
    })
}

/// The patient's NHS number if its check digit holds, else why not.
fn nhs_number(patient: &Value) -> (Option<String>, Option<String>) {
    let given = patient["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["system"] == NHS_SYSTEM)
        .and_then(|i| i["value"].as_str());
    match given {
        None if patient.is_null() => (None, Some("the EHR sent no patient".into())),
        None => (None, Some("no NHS number in the EHR".into())),
        Some(v) => match check_nhs_number(v) {
            NhsCheck::Valid => (Some(v.chars().filter(char::is_ascii_digit).collect()), None),
            NhsCheck::BadCheckDigit => (
                None,
                Some(format!(
                    "the EHR's NHS number {} fails its check digit",
                    super::printable(v, 20)
                )),
            ),
            NhsCheck::NotAnNhsNumber => (
                None,
                Some(format!(
                    "the EHR's NHS number '{}' is not ten digits",
                    super::printable(v, 20)
                )),
            ),
        },
    }
}

/// "Family, Given" from the first usable name (official first).
fn name(patient: &Value) -> String {
    let names: Vec<&Value> = patient["name"].as_array().into_iter().flatten().collect();
    let pick = names
        .iter()
        .find(|n| n["use"] == "official")
        .or_else(|| names.first());
    let Some(n) = pick else {
        return String::new();
    };
    if let Some(text) = n["text"].as_str() {
        return text.to_string();
    }
    let given: Vec<&str> = n["given"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    match (n["family"].as_str(), given.is_empty()) {
        (Some(f), false) => format!("{f}, {}", given.join(" ")),
        (Some(f), true) => f.to_string(),
        (None, _) => given.join(" "),
    }
}

/// The `next` link of a searchset page, if it has one.
pub fn next_link(page: &Value) -> Option<&str> {
    page["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == "next")?["url"]
        .as_str()
}

/// The end of the horizon: midnight (local) after `working_days` working
/// days from `now`'s day, today counting as the first; Saturdays and Sundays
/// do not count.
pub fn horizon_end(now: OffsetDateTime, local: UtcOffset, working_days: u32) -> OffsetDateTime {
    let mut day = now.to_offset(local).date();
    let mut left = working_days.max(1);
    loop {
        if !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
            left -= 1;
            if left == 0 {
                break;
            }
        }
        day = day.next_day().unwrap_or(day);
    }
    day.next_day()
        .unwrap_or(day)
        .midnight()
        .assume_offset(local)
        .to_offset(UtcOffset::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn appointment(id: &str, status: &str, start: &str, patient: &str) -> Value {
        json!({"fullUrl": format!("https://ehr.example/fhir/Appointment/{id}"), "resource": {
            "resourceType": "Appointment", "id": id, "status": status, "start": start,
            "participant": [{"actor": {"reference": patient}}, {"actor": {"reference": "Location/clinic-7"}}]}})
    }

    fn patient(id: &str, nhs: Option<&str>, family: &str) -> Value {
        let mut p = json!({"resourceType": "Patient", "id": id,
            "name": [{"use": "official", "family": family, "given": ["Ann", "May"]}]});
        if let Some(n) = nhs {
            p["identifier"] = json!([{"system": NHS_SYSTEM, "value": n}]);
        }
        json!({"fullUrl": format!("https://ehr.example/fhir/Patient/{id}"), "search": {"mode": "include"}, "resource": p})
    }

    fn page(entries: Vec<Value>, next: Option<&str>) -> Value {
        let mut b = json!({"resourceType": "Bundle", "type": "searchset", "entry": entries});
        if let Some(n) = next {
            b["link"] = json!([{"relation": "self", "url": "x"}, {"relation": "next", "url": n}]);
        }
        b
    }

    #[test]
    fn appointments_across_pages_come_out_in_deadline_order_with_their_patients() {
        let clinic = json!({"resource": {"resourceType": "Location", "id": "clinic-7", "name": "Fracture clinic"}});
        let one = page(
            vec![
                appointment("a2", "booked", "2026-12-09T14:00:00Z", "Patient/p2"),
                appointment("a1", "booked", "2026-12-09T09:00:00+00:00", "Patient/p1"),
                appointment("gone", "cancelled", "2026-12-08T09:00:00Z", "Patient/p1"),
                patient("p1", Some("943 476 5919"), "Smith"),
                clinic,
            ],
            Some("https://ehr.example/fhir/Appointment?page=2"),
        );
        let two = page(
            vec![
                appointment("a3", "arrived", "2026-12-08T10:30:00Z", "Patient/p3"),
                appointment("a4", "booked", "2026-12-10T10:00:00Z", "Patient/p4"),
                appointment("a1", "booked", "2026-12-09T09:00:00Z", "Patient/p1"),
                json!({"resource": {"resourceType": "Appointment", "id": "no-time", "status": "booked",
                    "participant": [{"actor": {"reference": "Patient/p1"}}]}}),
                patient("p2", None, "Jones"),
                patient("p3", Some("9434765918"), "Brown"),
            ],
            None,
        );
        assert_eq!(
            next_link(&one),
            Some("https://ehr.example/fhir/Appointment?page=2")
        );
        assert_eq!(next_link(&two), None);
        let (items, skipped) = read_searchset(&[one, two], Duration::hours(24)).unwrap();
        let ids: Vec<&str> = items.iter().map(|i| i.appointment_id.as_str()).collect();
        assert_eq!(
            ids,
            ["a3", "a1", "a2", "a4"],
            "cancelled and repeats left out"
        );
        assert_eq!(skipped, 1, "the appointment without a start");
        let a1 = &items[1];
        assert_eq!(a1.nhs_number.as_deref(), Some("9434765919"));
        assert_eq!(a1.name, "Smith, Ann May");
        assert_eq!(a1.clinic, "Fracture clinic");
        assert_eq!(a1.deadline, datetime!(2026-12-08 09:00 UTC));
        assert_eq!(
            items[2].nhs_problem.as_deref(),
            Some("no NHS number in the EHR")
        );
        assert!(
            items[0]
                .nhs_problem
                .as_deref()
                .unwrap()
                .contains("check digit")
        );
        assert_eq!(
            items[3].nhs_problem.as_deref(),
            Some("the EHR sent no patient")
        );
    }

    #[test]
    fn what_is_not_a_searchset_is_refused_in_words() {
        let outcome = json!({"resourceType": "OperationOutcome"});
        let e = read_searchset(&[outcome], Duration::ZERO).unwrap_err();
        assert!(e.0.contains("page 1") && e.0.contains("searchset"), "{e}");
        let hostile = page(
            vec![
                appointment("x", "booked", "2026-12-09T09:00:00Z", "Patient/p"),
                patient("p", Some("12345\u{202e}67890"), "Evil\u{0007}"),
            ],
            None,
        );
        let (items, _) = read_searchset(&[hostile], Duration::ZERO).unwrap();
        assert_eq!(items[0].name, "Evil\u{0007}, Ann May", "kept as it came");
        let why = items[0].nhs_problem.as_deref().unwrap();
        assert!(!why.contains('\u{202e}'), "never printed raw: {why}");
    }

    #[test]
    fn urgency_and_the_working_day_horizon() {
        let local = UtcOffset::UTC;
        // Friday 2026-12-11, 10:00.
        let now = datetime!(2026-12-11 10:00 UTC);
        let at = |d: OffsetDateTime| WorkItem {
            appointment_id: "a".into(),
            start: d,
            deadline: d,
            clinic: String::new(),
            patient_ref: "Patient/p".into(),
            nhs_number: None,
            nhs_problem: None,
            name: String::new(),
        };
        assert_eq!(
            at(datetime!(2026-12-11 09:59 UTC)).urgency(now, local),
            Urgency::Overdue
        );
        assert_eq!(
            at(datetime!(2026-12-11 23:59 UTC)).urgency(now, local),
            Urgency::DueToday
        );
        assert_eq!(
            at(datetime!(2026-12-12 00:00 UTC)).urgency(now, local),
            Urgency::Later
        );
        // Three working days from a Friday: Friday, Monday, Tuesday.
        assert_eq!(horizon_end(now, local, 3), datetime!(2026-12-16 00:00 UTC));
        assert_eq!(horizon_end(now, local, 1), datetime!(2026-12-12 00:00 UTC));
        // A Saturday counts from Monday.
        assert_eq!(
            horizon_end(datetime!(2026-12-12 10:00 UTC), local, 1),
            datetime!(2026-12-15 00:00 UTC)
        );
    }
}
