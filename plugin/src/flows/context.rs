//! What every flow works with: the clients, the state, the settings, the run's arguments and its
//! report.

use super::notice_text::attention_line;
use super::report::{Failure, Report};
use super::settings::FlowSettings;
use super::state::{State, STATE};
use super::JobError;
use crate::clients::notify::{self, Markup};
use crate::clients::{ApiError, Quickbooks, Salesforce};
use crate::platform::{Http, Platform, Scheduler};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;

/// A job's arguments (JSON).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Args {
    /// Redo just these source records: ids, or `<entity>:<id>` as the error ledger passes them
    /// (the entity is kept in [`Args::entities`], the id here).
    #[serde(default)]
    pub only: Option<Vec<String>>,
    /// The entity a qualified `only` entry named, by id (`Invoice:130` -> "130" -> "Invoice").
    #[serde(skip)]
    pub entities: BTreeMap<String, String>,
    /// Compute and report without writing anything (`ledgerlink plan`).
    #[serde(default)]
    pub dry_run: bool,
    /// Every record, not only those changed since the cursor.
    #[serde(default)]
    pub full: bool,
    /// "Today" for aging and default periods.
    #[serde(default)]
    pub as_of: Option<NaiveDate>,
    /// Reconciliation period.
    #[serde(default)]
    pub period_start: Option<NaiveDate>,
    /// Reconciliation period.
    #[serde(default)]
    pub period_end: Option<NaiveDate>,
}

impl Args {
    /// Parses `args` (empty means none).
    pub fn parse(args: &str) -> Result<Self, JobError> {
        if args.trim().is_empty() {
            return Ok(Self::default());
        }
        let mut parsed: Self = serde_json::from_str(args)
            .map_err(|e| JobError::InvalidArgs(format!("arguments: {e}")))?;
        for entry in parsed.only.iter_mut().flatten() {
            // Salesforce and QBO ids never contain ':'.
            if let Some((entity, id)) = entry.split_once(':') {
                if entity.is_empty() || id.is_empty() {
                    return Err(JobError::InvalidArgs(format!(
                        "arguments: only entry {entry:?} is neither an id nor <entity>:<id>"
                    )));
                }
                parsed.entities.insert(id.to_string(), entity.to_string());
                *entry = id.to_string();
            }
        }
        Ok(parsed)
    }

    /// `only` as passed, with entities (for a rerun of the same records).
    pub fn qualified_only(&self) -> Option<Vec<String>> {
        self.only.as_ref().map(|ids| {
            ids.iter()
                .map(|id| match self.entities.get(id) {
                    Some(entity) => format!("{entity}:{id}"),
                    None => id.clone(),
                })
                .collect()
        })
    }
}

/// A flow aborted as a whole (a listing query failed, state unreadable).
#[derive(Clone, Debug)]
pub struct Abort(pub Failure);

impl From<ApiError> for Abort {
    fn from(e: ApiError) -> Self {
        Abort(Failure::Api(e))
    }
}

impl From<String> for Abort {
    fn from(e: String) -> Self {
        Abort(Failure::Invalid(e))
    }
}

/// The result of a flow step.
pub type FlowResult = Result<(), Abort>;

/// Where a long run is: stored under `state/progress` after every batch, so that a host can
/// show a progress bar while the (single, blocking) job call runs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    /// The records being worked on, e.g. "Opportunity".
    pub step: String,
    /// How many of them are done.
    pub done: u64,
    /// How many there are (this run's selection).
    pub total: u64,
}

/// The key of [`Progress`] in the `state` bucket.
pub const PROGRESS_KEY: &str = "progress";

/// A run in progress.
pub struct Ctx<'a> {
    /// Outgoing HTTP (notifications).
    pub http: &'a dyn Http,
    /// QBO.
    pub qbo: Quickbooks<'a>,
    /// Salesforce.
    pub sf: Salesforce<'a>,
    /// Durable state.
    pub state: State<'a>,
    /// Delayed jobs.
    pub schedule: &'a dyn Scheduler,
    /// Tenant settings.
    pub settings: FlowSettings,
    /// Arguments.
    pub args: Args,
    /// Outcomes so far.
    pub report: Report,
    /// Notification lines (in the chat tool's markup), sent as one message at the end.
    pub notices: Vec<Markup>,
}

impl<'a> Ctx<'a> {
    /// A run over `platform`.
    pub fn new(platform: &Platform<'a>, args: Args) -> Result<Self, JobError> {
        let settings = FlowSettings::load(platform.settings).map_err(JobError::Failed)?;
        Ok(Self {
            http: platform.http,
            qbo: Quickbooks::new(platform.http, settings.realm_id.clone()),
            sf: Salesforce::new(platform.http),
            state: State::new(platform.kv),
            schedule: platform.schedule,
            settings,
            args,
            report: Report::default(),
            notices: Vec::new(),
        })
    }

    /// True when nothing may be written.
    pub fn dry_run(&self) -> bool {
        self.args.dry_run
    }

    /// "Today": the `as-of` argument or the clock.
    pub fn today(&self) -> NaiveDate {
        self.args.as_of.unwrap_or_else(|| Utc::now().date_naive())
    }

    /// True when `id` is wanted by this run (`only` absent, or listing it).
    pub fn wanted(&self, id: &str) -> bool {
        self.args
            .only
            .as_ref()
            .is_none_or(|only| only.iter().any(|o| o == id))
    }

    /// Records progress for the host; a store error only loses the bar, never the run.
    pub fn progress(&self, step: &str, done: usize, total: usize) {
        let p = Progress {
            step: step.to_string(),
            done: done.min(total) as u64,
            total: total as u64,
        };
        let _ = self.state.put(STATE, PROGRESS_KEY, &p);
    }

    /// Queues a notification line: plain text (a `String`, escaped) or [`Markup`] with links and
    /// mentions (see [`super::notice_text`]).
    pub fn notice(&mut self, line: impl Into<Markup>) {
        self.notices.push(line.into());
    }

    /// Ends the run: sends the notifications, asks for a rerun after a throttle, and turns an
    /// abort into the job's error.
    pub fn finish(mut self, job: &str, outcome: FlowResult) -> Result<Report, JobError> {
        if let Err(Abort(failure)) = &outcome {
            if let Failure::Api(ApiError::Throttled { retry_at }) = failure {
                self.reschedule(job, retry_at.clone());
                if self.report.records.is_empty() {
                    return Err(JobError::Throttled(retry_at.clone()));
                }
            } else if self.report.records.is_empty() {
                return Err(JobError::Failed(failure.to_string()));
            }
            self.report.failed(job, super::RUN_RECORD, failure.clone());
        }
        if let Some(at) = self.report.throttled_until.clone() {
            self.reschedule(job, at);
        }
        // A permanent failure is notified once per record and reason, not on every run.
        let mut failures: Vec<Markup> = Vec::new();
        for r in self
            .report
            .records
            .iter()
            .filter(|r| r.kind == super::Kind::Failed && !r.retryable)
        {
            let key = format!(
                "notified/{}/{}/{}",
                r.entity,
                r.record_id,
                super::ids::fingerprint(r.detail.as_bytes())
            );
            if self.dry_run() || matches!(self.state.get::<bool>(STATE, &key), Ok(Some(true))) {
                continue;
            }
            let _ = self.state.put(STATE, &key, &true);
            failures.push(attention_line(
                &self.settings,
                &r.entity,
                &r.record_id,
                &r.detail,
            ));
        }
        if !failures.is_empty() {
            let mut summary =
                Markup::plain(&format!("{} record(s) need attention:\n", failures.len()));
            summary.push(Markup::join(&failures, "\n"));
            self.notices.push(summary);
        }
        if !self.notices.is_empty() && !self.dry_run() {
            let mut text = Markup::plain(&format!("Ledgerlink {job}:\n"));
            text.push(Markup::join(&self.notices, "\n"));
            // A failed notification never fails the sync; it is reported instead.
            if let Err(e) = notify::post(self.http, &text) {
                self.report
                    .skipped("Notification", job, None, format!("not sent: {e}"));
            }
        }
        Ok(self.report)
    }

    fn reschedule(&mut self, job: &str, at: String) {
        if self.dry_run() {
            return;
        }
        let args = serde_json::json!({"only": self.args.qualified_only()}).to_string();
        if let Err(e) = self.schedule.run_later(job, &args, &at) {
            self.report.skipped(
                "Schedule",
                job,
                None,
                format!("could not ask for a rerun: {e}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::memory::{MemoryPlatform, Routes};
    use crate::platform::Method::Post;

    #[test]
    fn records_needing_attention_are_notified_an_opportunity_linked_and_details_escaped() {
        let mut platform = MemoryPlatform::routed(
            "1",
            Routes::new().json(Post, "http://notify/", 200, serde_json::json!({})),
        );
        platform.settings.0.insert(
            "salesforce-url".into(),
            "https://acme.my.salesforce.com".into(),
        );
        let mut ctx = Ctx::new(&platform.platform(), Args::default()).unwrap();
        ctx.notice("Order 801 cancelled: <b> & co");
        ctx.report.failed(
            "Opportunity",
            "006A",
            Failure::Invalid("Amount <0> & no lines".into()),
        );
        ctx.report
            .failed("Invoice", "130", Failure::Invalid("gone".into()));
        ctx.finish("sync-invoices", Ok(())).unwrap();
        assert_eq!(platform.http.unscripted(), Vec::<String>::new());
        assert_eq!(
            platform.http.bodies(Post, "http://notify/")[0]["text"],
            "Ledgerlink sync-invoices:\n\
             Order 801 cancelled: &lt;b&gt; &amp; co\n\
             2 record(s) need attention:\n\
             Opportunity <https://acme.my.salesforce.com/lightning/r/Opportunity/006A/view|006A>: \
             Amount &lt;0&gt; &amp; no lines\n\
             Invoice 130: gone"
        );
    }

    #[test]
    fn only_takes_ids_and_entity_qualified_ids() {
        let args = Args::parse(r#"{"only": ["006A", "Payment:130", "Invoice:7"]}"#).unwrap();
        assert_eq!(
            args.only,
            Some(vec!["006A".into(), "130".into(), "7".into()])
        );
        assert_eq!(
            args.entities.get("130").map(String::as_str),
            Some("Payment")
        );
        assert_eq!(args.entities.get("006A"), None);
        assert_eq!(
            args.qualified_only(),
            Some(vec![
                "006A".into(),
                "Payment:130".into(),
                "Invoice:7".into()
            ])
        );
        assert!(matches!(
            Args::parse(r#"{"only": [":130"]}"#),
            Err(JobError::InvalidArgs(m)) if m.contains(":130")
        ));
    }
}
