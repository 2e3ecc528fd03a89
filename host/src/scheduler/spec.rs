//! Which jobs recur and when: the component's `describe` gives each job's default cron
//! expression (`sec min hour day month weekday`); the tenant's `[tenant.schedules]` overrides
//! one (`job = "0 */5 * * * *"`) or turns it off (`job = "off"`).

use crate::runtime::exports::ledgerlink::sync::flows::Job;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::str::FromStr;

/// A parsed cron expression (6 fields, or 7 with a year).
pub type Cron = cron::Schedule;

/// Parses one schedule: `None` for `"off"`.
pub fn parse(expr: &str) -> Result<Option<Cron>> {
    let expr = expr.trim();
    if expr.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let fields = expr.split_whitespace().count();
    if !(6..=7).contains(&fields) {
        bail!(
            "cron expression {expr:?} has {fields} fields; expected 6 (sec min hour day month weekday) or \"off\""
        );
    }
    Cron::from_str(expr)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("cron expression {expr:?} is not valid: {e}"))
}

/// The effective schedules of a tenant: the described defaults, then the overrides.
pub fn effective(
    described: &[Job],
    overrides: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Cron>> {
    let mut out = BTreeMap::new();
    for job in described {
        if let Some(expr) = &job.default_schedule {
            let parsed = parse(expr)
                .with_context(|| format!("the component's default schedule of job {}", job.name))?;
            if let Some(cron) = parsed {
                out.insert(job.name.clone(), cron);
            }
        }
    }
    for (name, expr) in overrides {
        match parse(expr).with_context(|| format!("schedule of job {name}"))? {
            Some(cron) => {
                out.insert(name.clone(), cron);
            }
            None => {
                out.remove(name);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, schedule: Option<&str>) -> Job {
        Job {
            name: name.into(),
            description: String::new(),
            default_schedule: schedule.map(str::to_string),
        }
    }

    #[test]
    fn config_overrides_and_disables_the_described_defaults() {
        let described = [
            job("poll", Some("0 */5 * * * *")),
            job("aging", Some("0 0 6 * * *")),
            job("backfill", None),
        ];
        let overrides = BTreeMap::from([
            ("poll".to_string(), "0 * * * * *".to_string()),
            ("aging".to_string(), "off".to_string()),
            ("backfill".to_string(), "0 0 2 * * Sun".to_string()),
        ]);
        let eff = effective(&described, &overrides).unwrap();
        assert_eq!(eff.keys().collect::<Vec<_>>(), ["backfill", "poll"]);
        assert_eq!(eff["poll"].source(), "0 * * * * *");
    }

    #[test]
    fn a_bad_expression_is_named() {
        let err = format!("{:#}", parse("*/5 * * * *").unwrap_err());
        assert!(err.contains("5 fields"), "{err}");
        let err = format!("{:#}", parse("0 0 25 * * *").unwrap_err());
        assert!(err.contains("not valid"), "{err}");
        let overrides = BTreeMap::from([("poll".to_string(), "every day".to_string())]);
        let err = format!("{:#}", effective(&[], &overrides).unwrap_err());
        assert!(err.contains("schedule of job poll"), "{err}");
    }
}
