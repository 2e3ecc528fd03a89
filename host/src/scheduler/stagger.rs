//! Where in its period a tenant's default schedule fires: a fixed offset per (tenant, job), so
//! that a host's 1,000 tenants on the component's default `poll` (every 5 minutes, at second 0)
//! do not all start in the same second. Measured: the 1,000 polls then drained in 4.4 s and a
//! webhook arriving meanwhile waited up to 3 s behind them (BENCHMARKS.md, "1,000 tenants").
//! A schedule written in the config is kept to the second: someone chose it.

use super::spec::Cron;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

/// The most a default schedule is moved: a daily report stays within minutes of its hour.
pub const MAX_OFFSET: Duration = Duration::minutes(10);

/// The offset of `job` of `tenant` in `[0, min(period of cron, MAX_OFFSET))`, whole seconds:
/// the same on every start (it comes from the names), spread evenly over tenants.
pub fn offset(tenant: &str, job: &str, cron: &Cron) -> Duration {
    let Some(span) = period(cron).map(|p| p.min(MAX_OFFSET)) else {
        return Duration::zero();
    };
    let seconds = span.num_seconds();
    if seconds <= 1 {
        return Duration::zero();
    }
    let digest = Sha256::new()
        .chain_update(tenant.as_bytes())
        .chain_update([0])
        .chain_update(job.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    Duration::seconds((u64::from_le_bytes(first) % seconds as u64) as i64)
}

/// The offset of a tenant's `job`: zero when the tenant's config sets its schedule
/// (`overrides` are its `[tenant.schedules]`), else [`offset`].
pub fn job_offset(
    tenant: &str,
    job: &str,
    cron: &Cron,
    overrides: Option<&std::collections::BTreeMap<String, String>>,
) -> Duration {
    if overrides.is_some_and(|o| o.contains_key(job)) {
        Duration::zero()
    } else {
        offset(tenant, job, cron)
    }
}

/// When `cron`, moved by `offset`, fires next after `now`.
pub fn next_after(cron: &Cron, offset: Duration, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Some(cron.after(&(now - offset)).next()? + offset)
}

/// The shortest gap between the next few slots of `cron` (`None` for a schedule that fires at
/// most once).
fn period(cron: &Cron) -> Option<Duration> {
    let start = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
    let slots: Vec<_> = cron.after(&start).take(4).collect();
    slots.windows(2).map(|w| w[1] - w[0]).min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn cron(expr: &str) -> Cron {
        Cron::from_str(expr).unwrap()
    }

    #[test]
    fn a_thousand_tenants_spread_over_the_five_minutes_of_the_default_poll() {
        let poll = cron("0 */5 * * * *");
        let mut per_second = std::collections::BTreeMap::new();
        for i in 0..1000 {
            let o = offset(&format!("tenant-{i}"), "poll", &poll);
            assert!(o >= Duration::zero() && o < Duration::minutes(5), "{o}");
            *per_second.entry(o.num_seconds()).or_insert(0) += 1;
        }
        // 1,000 over 300 seconds: about 3.3 a second, never the whole host at once.
        assert!(
            per_second.len() > 250,
            "{} distinct seconds",
            per_second.len()
        );
        assert!(per_second.values().all(|n| *n <= 12), "{per_second:?}");
    }

    #[test]
    fn the_offset_is_stable_and_bounded_by_the_period_and_the_cap() {
        let poll = cron("0 */5 * * * *");
        assert_eq!(offset("acme", "poll", &poll), offset("acme", "poll", &poll));
        let every_second = cron("* * * * * *");
        assert_eq!(offset("acme", "poll", &every_second), Duration::zero());
        let daily = cron("0 0 6 * * *");
        for i in 0..200 {
            assert!(offset(&format!("t{i}"), "aging", &daily) < MAX_OFFSET);
        }
        let once = cron("0 0 6 1 1 * 2020");
        assert_eq!(offset("acme", "aging", &once), Duration::zero());
    }

    #[test]
    fn the_next_run_is_the_next_slot_moved_by_the_offset_unless_the_config_set_the_schedule() {
        let poll = cron("0 */5 * * * *");
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        let shift = Duration::seconds(90);
        let next = |now| next_after(&poll, shift, at(now)).unwrap().to_rfc3339();
        assert_eq!(next("2026-01-01T00:00:00Z"), "2026-01-01T00:01:30+00:00");
        assert_eq!(next("2026-01-01T00:01:31Z"), "2026-01-01T00:06:30+00:00");
        let configured = std::collections::BTreeMap::from([("poll".into(), "x".into())]);
        assert_eq!(
            job_offset("acme", "poll", &poll, Some(&configured)),
            Duration::zero()
        );
        assert_eq!(
            job_offset("acme", "poll", &poll, None),
            offset("acme", "poll", &poll)
        );
    }
}
