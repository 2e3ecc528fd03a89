//! RecurringTransaction: an Invoice template with a schedule, and the scheduler that turns it
//! into Invoices on the emulator's clock.
//!
//! The API reads and writes a template wrapped in its transaction type, as python-quickbooks'
//! `RecurringTransaction` (UpdateNoIdMixin, DeleteNoIdMixin) sends it:
//! `{"Invoice": {...invoice fields..., "RecurringInfo": {"Name", "RecurType", "Active",
//! "ScheduleInfo": {...}}}}`. The store keeps the inner Invoice object; `operations::render`
//! wraps it again.
//!
//! | rule | error |
//! |---|---|
//! | the template's customer and lines follow the Invoice rules (no DocNumber, TxnDate, DueDate, Balance) | as Invoice |
//! | `RecurringInfo.Name` required, unique among templates (case-insensitive) | 2020 / 6240 |
//! | `RecurType` in Automated, Reminded, UnScheduled | 2170 |
//! | Automated: `ScheduleInfo` with IntervalType (Daily, Weekly, Monthly, Yearly), NumInterval ≥ 1, StartDate | 2020 / 2170 / 6000 |
//! | `ScheduleInfo.NextDate` / `PreviousDate` | computed (read-only) |
//!
//! The scheduler: occurrence k of a template is StartDate advanced by k × NumInterval intervals
//! (Monthly / Yearly keep the day of month, or `DayOfMonth`, clamped to the month's end; with a
//! `DayOfMonth` before StartDate's day the first occurrence is in the next month). An Active,
//! Automated template's occurrence k is generated once the company's today reaches its date minus
//! `DaysBefore`, while k < MaxOccurrences and the date is not after EndDate. The number generated
//! per template is kept in the store (`Company::recurring_runs`), so nothing is generated twice;
//! due occurrences are caught up in date order. It runs under the store's lock before every API
//! request of the realm, when the clock advances, and right after a template is written.

use super::entities;
use super::errors::QboError;
use super::fields::{flag, id_text, text};
use super::operations::{Ops, Options};
use super::store::{Company, Record};
use super::timefmt;
use super::transactions::{self, Applied, SalesForm, TxnCtx};
use super::webhooks::ChangeEvent;
use chrono::{DateTime, Datelike, Duration, FixedOffset, Months, NaiveDate, Utc};
use serde_json::{json, Map, Value};

/// The entity name.
pub(crate) const ENTITY: &str = "RecurringTransaction";

/// The only transaction type a template may hold in the emulator.
pub(crate) const TEMPLATE_TYPE: &str = "Invoice";

/// The template types QBO knows (python-quickbooks `RecurringTransaction.class_dict`).
const OTHER_TYPES: [&str; 11] = [
    "Bill",
    "Purchase",
    "CreditMemo",
    "Deposit",
    "Estimate",
    "JournalEntry",
    "RefundReceipt",
    "SalesReceipt",
    "Transfer",
    "VendorCredit",
    "PurchaseOrder",
];

const RECUR_TYPES: [&str; 3] = ["Automated", "Reminded", "UnScheduled"];

/// The template of a request body: `{"Invoice": {...}}`, or that wrapped once more in
/// `{"RecurringTransaction": ...}`.
pub(crate) fn unwrap_body(mut map: Map<String, Value>) -> Result<Map<String, Value>, QboError> {
    if map.len() == 1 {
        if let Some(Value::Object(inner)) = map.get(ENTITY) {
            map = inner.clone();
        }
    }
    if let Some(Value::Object(inner)) = map.remove(TEMPLATE_TYPE) {
        return Ok(inner);
    }
    if let Some(other) = OTHER_TYPES.iter().find(|t| map.contains_key(**t)) {
        // Emulator approximation: QBO also keeps templates of these types.
        return Err(QboError::unsupported(format!(
            "RecurringTransaction templates of type {other} are not supported by this emulator (Invoice only)"
        )));
    }
    Err(QboError::required("Invoice"))
}

/// How often a schedule repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Interval {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

/// A template's `ScheduleInfo`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Schedule {
    interval: Interval,
    every: u32,
    day_of_month: Option<u32>,
    start: NaiveDate,
    end: Option<NaiveDate>,
    max: Option<u32>,
    days_before: i64,
}

fn whole_number(info: &Map<String, Value>, key: &str) -> Result<Option<i64>, QboError> {
    match info.get(key) {
        None => Ok(None),
        Some(v) => {
            let n = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            n.map(Some).ok_or_else(|| {
                QboError::illegal_number(&format!("ScheduleInfo.{key}"), &v.to_string())
            })
        }
    }
}

fn date_field(info: &Map<String, Value>, key: &str) -> Result<Option<NaiveDate>, QboError> {
    match text(info, key) {
        None => Ok(None),
        Some(t) => timefmt::parse_date(&t).map(Some).ok_or_else(|| {
            QboError::invalid_property(format!("ScheduleInfo.{key} ({t})"))
                .element(&format!("RecurringInfo.ScheduleInfo.{key}"))
        }),
    }
}

impl Schedule {
    /// Reads and checks a `ScheduleInfo`.
    fn parse(info: &Map<String, Value>) -> Result<Self, QboError> {
        let field = |k: &str| format!("RecurringInfo.ScheduleInfo.{k}");
        let interval_text =
            text(info, "IntervalType").ok_or_else(|| QboError::required(&field("IntervalType")))?;
        let interval = match interval_text.as_str() {
            "Daily" => Interval::Daily,
            "Weekly" => Interval::Weekly,
            "Monthly" => Interval::Monthly,
            "Yearly" => Interval::Yearly,
            other => return Err(QboError::invalid_enum(&field("IntervalType"), other)),
        };
        let every = whole_number(info, "NumInterval")?
            .ok_or_else(|| QboError::required(&field("NumInterval")))?;
        if !(1..=999).contains(&every) {
            return Err(QboError::business(format!(
                "ScheduleInfo.NumInterval must be at least 1 (got {every})."
            ))
            .element(&field("NumInterval")));
        }
        let start = date_field(info, "StartDate")?
            .ok_or_else(|| QboError::required(&field("StartDate")))?;
        let end = date_field(info, "EndDate")?;
        if end.is_some_and(|e| e < start) {
            return Err(
                QboError::business("ScheduleInfo.EndDate is before StartDate.")
                    .element(&field("EndDate")),
            );
        }
        let day_of_month = match whole_number(info, "DayOfMonth")? {
            None => None,
            Some(d) if (1..=31).contains(&d) => u32::try_from(d).ok(),
            Some(d) => {
                return Err(QboError::business(format!(
                    "ScheduleInfo.DayOfMonth must be between 1 and 31 (got {d})."
                ))
                .element(&field("DayOfMonth")))
            }
        };
        let max = match whole_number(info, "MaxOccurrences")? {
            None => None,
            Some(m) if m >= 1 => u32::try_from(m).ok(),
            Some(m) => {
                return Err(QboError::business(format!(
                    "ScheduleInfo.MaxOccurrences must be at least 1 (got {m})."
                ))
                .element(&field("MaxOccurrences")))
            }
        };
        let days_before = whole_number(info, "DaysBefore")?.unwrap_or(0);
        if !(0..=365).contains(&days_before) {
            return Err(QboError::business(format!(
                "ScheduleInfo.DaysBefore must be between 0 and 365 (got {days_before})."
            ))
            .element(&field("DaysBefore")));
        }
        Ok(Self {
            interval,
            every: u32::try_from(every).unwrap_or(1),
            day_of_month,
            start,
            end,
            max,
            days_before,
        })
    }

    /// The date of occurrence `k` (0 is the first), without the MaxOccurrences / EndDate limits.
    fn occurrence(&self, k: u32) -> Option<NaiveDate> {
        let steps = k.checked_mul(self.every)?;
        match self.interval {
            Interval::Daily => self
                .start
                .checked_add_signed(Duration::try_days(i64::from(steps))?),
            Interval::Weekly => self
                .start
                .checked_add_signed(Duration::try_days(i64::from(steps) * 7)?),
            Interval::Monthly => {
                let day = self.day_of_month.unwrap_or(self.start.day());
                let first = if month_date(self.start, 0, day)? < self.start {
                    1
                } else {
                    0
                };
                month_date(self.start, first + steps, day)
            }
            Interval::Yearly => month_date(self.start, steps.checked_mul(12)?, self.start.day()),
        }
    }

    /// Occurrence `k`, if the schedule has one.
    fn within(&self, k: u32) -> Option<NaiveDate> {
        if self.max.is_some_and(|m| k >= m) {
            return None;
        }
        self.occurrence(k)
            .filter(|d| self.end.is_none_or(|e| *d <= e))
    }
}

/// The `day` (clamped to the month's end) of the month `months` after `start`'s month.
fn month_date(start: NaiveDate, months: u32, day: u32) -> Option<NaiveDate> {
    let first = start.with_day(1)?.checked_add_months(Months::new(months))?;
    let last = first.checked_add_months(Months::new(1))?.pred_opt()?.day();
    first.with_day(day.clamp(1, last))
}

fn info_of(template: &Map<String, Value>) -> Map<String, Value> {
    template
        .get("RecurringInfo")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn schedule_of(info: &Map<String, Value>) -> Option<Map<String, Value>> {
    info.get("ScheduleInfo").and_then(Value::as_object).cloned()
}

/// Writes the read-only `NextDate` / `PreviousDate` of a template that has generated `runs`
/// occurrences.
fn set_dates(info: &mut Map<String, Value>, schedule: Option<&Schedule>, runs: u32) {
    let Some(Value::Object(sched)) = info.get_mut("ScheduleInfo") else {
        return;
    };
    sched.remove("NextDate");
    sched.remove("PreviousDate");
    let Some(schedule) = schedule else { return };
    let fmt = |d: NaiveDate| json!(d.format("%Y-%m-%d").to_string());
    if runs > 0 {
        if let Some(previous) = schedule.within(runs - 1) {
            sched.insert("PreviousDate".into(), fmt(previous));
        }
    }
    let active = flag(info, "Active").unwrap_or(true);
    if active {
        if let Some(next) = schedule.within(runs) {
            if let Some(Value::Object(sched)) = info.get_mut("ScheduleInfo") {
                sched.insert("NextDate".into(), fmt(next));
            }
        }
    }
}

/// The rules of a template (the Invoice object inside a RecurringTransaction).
pub(crate) fn template_rules(
    obj: &mut Map<String, Value>,
    company: &Company,
    ctx: &TxnCtx,
) -> Result<(), QboError> {
    let mut info = obj
        .get("RecurringInfo")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| QboError::required("RecurringInfo"))?;
    let name = text(&info, "Name").ok_or_else(|| QboError::required("RecurringInfo.Name"))?;
    if name.chars().count() > 100 {
        return Err(QboError::too_long("RecurringInfo.Name", 100));
    }
    let key = name.to_lowercase();
    if company.list(ENTITY).any(|(id, r)| {
        id.as_str() != ctx.id
            && text(&info_of(&r.value), "Name").is_some_and(|n| n.to_lowercase() == key)
    }) {
        return Err(QboError::duplicate_name("recurring template").element("RecurringInfo.Name"));
    }
    info.insert("Name".into(), json!(name));
    let recur_type = text(&info, "RecurType").unwrap_or_else(|| "Automated".into());
    if !RECUR_TYPES.contains(&recur_type.as_str()) {
        return Err(QboError::invalid_enum(
            "RecurringInfo.RecurType",
            &recur_type,
        ));
    }
    info.insert("RecurType".into(), json!(recur_type));
    let active = flag(&info, "Active").unwrap_or(true);
    info.insert("Active".into(), json!(active));
    let schedule = match schedule_of(&info) {
        Some(sched) => Some(Schedule::parse(&sched)?),
        None if recur_type == "Automated" => {
            return Err(QboError::required("RecurringInfo.ScheduleInfo"))
        }
        None => None,
    };
    if let Some(Value::Object(sched)) = info.get_mut("ScheduleInfo") {
        for key in ["NumInterval", "DayOfMonth", "MaxOccurrences", "DaysBefore"] {
            if let Some(n) = sched
                .get(key)
                .and_then(id_text)
                .and_then(|t| t.parse::<i64>().ok())
            {
                sched.insert(key.into(), json!(n));
            }
        }
    }
    transactions::sales_rules(SalesForm::Template, obj, company, ctx, &Applied::default())?;
    let runs = company.recurring_runs.get(ctx.id).copied().unwrap_or(0);
    set_dates(&mut info, schedule.as_ref(), runs);
    obj.insert("RecurringInfo".into(), Value::Object(info));
    Ok(())
}

/// The Invoice of occurrence `date` of `template`: the template's own fields and those the
/// invoice computes are dropped (the create drops the system keys, `Id`, `SyncToken`, ...).
fn invoice_from(template: &Map<String, Value>, date: NaiveDate) -> Map<String, Value> {
    let mut obj = template.clone();
    for key in [
        "RecurringInfo",
        "TotalAmt",
        "HomeTotalAmt",
        "DocNumber",
        "DueDate",
    ] {
        obj.remove(key);
    }
    obj.insert("TxnDate".into(), json!(date.format("%Y-%m-%d").to_string()));
    obj
}

/// Generates every due occurrence of the templates (all of them, or only `only`), in date order
/// per template, with `ops`.
pub(crate) fn run_with(ops: &mut Ops, only: Option<&str>) {
    if ops.company.get_table(ENTITY).is_none() {
        return;
    }
    let ids: Vec<String> = match only {
        Some(id) => vec![id.to_string()],
        None => ops.company.list(ENTITY).map(|(id, _)| id.clone()).collect(),
    };
    let today = timefmt::local_date(ops.now, ops.tz);
    let Some(invoice_def) = entities::lookup(TEMPLATE_TYPE) else {
        return;
    };
    for id in ids {
        let Some(record) = ops.company.get(ENTITY, &id).cloned() else {
            continue;
        };
        let mut info = info_of(&record.value);
        if text(&info, "RecurType").as_deref() != Some("Automated")
            || !flag(&info, "Active").unwrap_or(true)
        {
            continue;
        }
        let Some(Ok(schedule)) = schedule_of(&info).map(|s| Schedule::parse(&s)) else {
            continue;
        };
        let before = ops.company.recurring_runs.get(&id).copied().unwrap_or(0);
        let mut runs = before;
        while let Some(date) = schedule.within(runs) {
            let due = date
                .checked_sub_signed(Duration::days(schedule.days_before))
                .unwrap_or(date);
            if today < due {
                break;
            }
            let body = invoice_from(&record.value, date);
            let created = match ops.create(invoice_def, body, None) {
                Ok(created) => created,
                Err(e) => {
                    // Retried at the next run (e.g. once the customer is active again).
                    tracing::warn!(template = %id, error = ?e.errors.first(), "recurring invoice not generated");
                    break;
                }
            };
            if let Some(invoice_id) = created.get("Id").and_then(Value::as_str) {
                if let Some(stored) = ops.company.get(TEMPLATE_TYPE, invoice_id).cloned() {
                    let mut value = stored.value;
                    value.insert("RecurDataRef".into(), json!({"value": id}));
                    ops.company.table(TEMPLATE_TYPE).put(
                        invoice_id.to_string(),
                        Record {
                            value,
                            updated_at: stored.updated_at,
                            voided: stored.voided,
                        },
                    );
                }
            }
            runs += 1;
            ops.company.recurring_runs.insert(id.clone(), runs);
        }
        if runs != before {
            // Emulator approximation: NextDate / PreviousDate move without a new SyncToken, so a
            // client holding the template can still update it.
            set_dates(&mut info, Some(&schedule), runs);
            let mut value = record.value.clone();
            value.insert("RecurringInfo".into(), Value::Object(info));
            ops.company.table(ENTITY).put(
                id.clone(),
                Record {
                    value,
                    updated_at: record.updated_at,
                    voided: record.voided,
                },
            );
        }
    }
}

/// Runs the scheduler on one company outside a request.
pub(crate) fn run_company(
    company: &mut Company,
    realm: &str,
    now: DateTime<Utc>,
    tz: FixedOffset,
    events: &mut Vec<ChangeEvent>,
) {
    if company.get_table(ENTITY).is_none() {
        return;
    }
    let mut ops = Ops {
        company,
        realm,
        now,
        tz,
        events,
        options: Options::default(),
    };
    run_with(&mut ops, None);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(v: Value) -> Schedule {
        Schedule::parse(v.as_object().unwrap()).unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn monthly_keeps_the_day_clamped_to_the_month_end() {
        let s = schedule(
            json!({"IntervalType": "Monthly", "NumInterval": 1, "StartDate": "2025-01-31"}),
        );
        let dates: Vec<_> = (0..4).filter_map(|k| s.occurrence(k)).collect();
        assert_eq!(
            dates,
            [
                d("2025-01-31"),
                d("2025-02-28"),
                d("2025-03-31"),
                d("2025-04-30")
            ]
        );
        let s = schedule(
            json!({"IntervalType": "Monthly", "NumInterval": 2, "DayOfMonth": 5, "StartDate": "2025-01-10"}),
        );
        assert_eq!(s.occurrence(0), Some(d("2025-02-05")));
        assert_eq!(s.occurrence(1), Some(d("2025-04-05")));
    }

    #[test]
    fn limits_end_the_schedule() {
        let s = schedule(
            json!({"IntervalType": "Weekly", "NumInterval": "2", "StartDate": "2025-01-01", "MaxOccurrences": 3, "EndDate": "2025-01-20"}),
        );
        assert_eq!(s.within(0), Some(d("2025-01-01")));
        assert_eq!(s.within(1), Some(d("2025-01-15")));
        assert_eq!(s.within(2), None, "after EndDate");
        let s = schedule(
            json!({"IntervalType": "Daily", "NumInterval": 1, "StartDate": "2025-01-01", "MaxOccurrences": 2}),
        );
        assert_eq!(s.within(1), Some(d("2025-01-02")));
        assert_eq!(s.within(2), None, "MaxOccurrences");
        assert_eq!(
            schedule(
                json!({"IntervalType": "Yearly", "NumInterval": 1, "StartDate": "2024-02-29"})
            )
            .occurrence(1),
            Some(d("2025-02-28"))
        );
    }

    #[test]
    fn schedules_are_checked() {
        let bad = |v: Value| {
            Schedule::parse(v.as_object().unwrap()).unwrap_err().errors[0]
                .code
                .clone()
        };
        assert_eq!(
            bad(json!({"NumInterval": 1, "StartDate": "2025-01-01"})),
            "2020"
        );
        assert_eq!(
            bad(json!({"IntervalType": "Hourly", "NumInterval": 1, "StartDate": "2025-01-01"})),
            "2170"
        );
        assert_eq!(
            bad(json!({"IntervalType": "Daily", "NumInterval": 0, "StartDate": "2025-01-01"})),
            "6000"
        );
        assert_eq!(
            bad(json!({"IntervalType": "Daily", "NumInterval": 1})),
            "2020"
        );
    }
}
