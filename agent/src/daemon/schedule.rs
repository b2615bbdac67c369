//! When the agent daemon runs: every interval with jitter (so a fleet of
//! agents does not probe in step), or at the times of a five-field cron
//! expression (minute hour day-of-month month day-of-week) in a fixed UTC
//! offset.

use std::time::Duration;

use time::{OffsetDateTime, UtcOffset};

/// A duration such as `6h`, `30m`, `90s` or `1d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 6h, 30m or 90s"))?;
    let unit = unit.trim();
    let secs = match unit {
        "s" | "" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (s, m, h or d)")),
    };
    if secs == 0 {
        return Err(format!("`{s}` is zero"));
    }
    Ok(Duration::from_secs(secs))
}

/// One field of a cron expression: the values it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    allowed: Vec<bool>,
    any: bool,
}

impl Field {
    fn parse(text: &str, min: u32, max: u32, name: &str) -> Result<Self, String> {
        let mut allowed = vec![false; max as usize + 1];
        for part in text.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (
                    r,
                    s.parse::<u32>()
                        .map_err(|_| format!("{name}: bad step `{s}`"))?,
                ),
                None => (part, 1),
            };
            if step == 0 {
                return Err(format!("{name}: a step of 0"));
            }
            let (lo, hi) = if range == "*" {
                (min, max)
            } else if let Some((a, b)) = range.split_once('-') {
                let a = a
                    .parse::<u32>()
                    .map_err(|_| format!("{name}: bad value `{a}`"))?;
                let b = b
                    .parse::<u32>()
                    .map_err(|_| format!("{name}: bad value `{b}`"))?;
                (a, b)
            } else {
                let v = range
                    .parse::<u32>()
                    .map_err(|_| format!("{name}: bad value `{range}`"))?;
                (v, if part.contains('/') { max } else { v })
            };
            if lo < min || hi > max || lo > hi {
                return Err(format!("{name}: `{part}` is outside {min}-{max}"));
            }
            let mut v = lo;
            while v <= hi {
                allowed[v as usize] = true;
                v += step;
            }
        }
        Ok(Self {
            allowed,
            any: text == "*",
        })
    }

    fn has(&self, v: u32) -> bool {
        self.allowed.get(v as usize).copied().unwrap_or(false)
    }
}

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minute: Field,
    hour: Field,
    dom: Field,
    month: Field,
    dow: Field,
}

impl Cron {
    /// Parses `minute hour day-of-month month day-of-week`; a day of week of 7 is Sunday too.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let [m, h, dom, mon, dow] = fields[..] else {
            return Err(format!(
                "`{expr}` is not a cron expression of five fields (minute hour day-of-month month day-of-week)"
            ));
        };
        let mut dow = Field::parse(dow, 0, 7, "day of week")?;
        // 7 is Sunday too.
        if dow.has(7) {
            dow.allowed[0] = true;
        }
        Ok(Self {
            minute: Field::parse(m, 0, 59, "minute")?,
            hour: Field::parse(h, 0, 23, "hour")?,
            dom: Field::parse(dom, 1, 31, "day of month")?,
            month: Field::parse(mon, 1, 12, "month")?,
            dow,
        })
    }

    fn matches(&self, t: OffsetDateTime) -> bool {
        let day_ok = {
            let (d, w) = (
                self.dom.has(u32::from(t.day())),
                self.dow
                    .has(u32::from(t.weekday().number_days_from_sunday())),
            );
            // As in Vixie cron: with both day fields restricted, either may match.
            match (self.dom.any, self.dow.any) {
                (false, false) => d || w,
                _ => d && w,
            }
        };
        self.minute.has(u32::from(t.minute()))
            && self.hour.has(u32::from(t.hour()))
            && self.month.has(u32::from(u8::from(t.month())))
            && day_ok
    }

    /// The first matching minute strictly after `after`, in `offset`; None
    /// if none within five years (an impossible date such as 31 February).
    pub fn next_after(&self, after: OffsetDateTime, offset: UtcOffset) -> Option<OffsetDateTime> {
        let local = after.to_offset(offset);
        let mut t =
            local.replace_second(0).ok()?.replace_nanosecond(0).ok()? + time::Duration::minutes(1);
        let limit = local + time::Duration::days(5 * 366);
        while t < limit {
            if !self.month.has(u32::from(u8::from(t.month()))) {
                // Jump to the first minute of the next month.
                let (y, m) = if t.month() == time::Month::December {
                    (t.year() + 1, time::Month::January)
                } else {
                    (t.year(), t.month().next())
                };
                t = time::Date::from_calendar_date(y, m, 1)
                    .ok()?
                    .midnight()
                    .assume_offset(offset);
                continue;
            }
            if !self.matches_day(t) {
                t = (t.date().next_day()?).midnight().assume_offset(offset);
                continue;
            }
            if !self.hour.has(u32::from(t.hour())) {
                t = t.replace_minute(0).ok()? + time::Duration::hours(1);
                continue;
            }
            if self.matches(t) {
                return Some(t);
            }
            t += time::Duration::minutes(1);
        }
        None
    }

    fn matches_day(&self, t: OffsetDateTime) -> bool {
        let (d, w) = (
            self.dom.has(u32::from(t.day())),
            self.dow
                .has(u32::from(t.weekday().number_days_from_sunday())),
        );
        match (self.dom.any, self.dow.any) {
            (false, false) => d || w,
            _ => d && w,
        }
    }
}

/// When to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every `interval`, each wait moved by up to `jitter` either way.
    Every {
        /// The time between runs.
        interval: Duration,
        /// The most each wait is moved, earlier or later.
        jitter: Duration,
    },
    /// At the times a cron expression names, in a fixed UTC offset.
    Cron {
        /// The expression.
        cron: Cron,
        /// The offset its times are in.
        offset: UtcOffset,
    },
}

impl Schedule {
    /// How long to wait before the next run.
    pub fn wait(&self, now: OffsetDateTime) -> Duration {
        match self {
            Self::Every { interval, jitter } => {
                let j = jitter.as_secs_f64();
                let r = random_unit() * 2.0 - 1.0;
                Duration::try_from_secs_f64((interval.as_secs_f64() + r * j).max(1.0))
                    .unwrap_or(*interval)
            }
            Self::Cron { cron, offset } => cron
                .next_after(now, *offset)
                .map(|t| (t - now).unsigned_abs())
                .unwrap_or(Duration::from_secs(86_400)),
        }
    }
}

/// A number in [0, 1) from the system's random source (jitter only).
pub fn random_unit() -> f64 {
    use aws_lc_rs::rand::SecureRandom;
    let mut b = [0u8; 8];
    if aws_lc_rs::rand::SystemRandom::new().fill(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use time::macros::{datetime, offset};

    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("6h"), Ok(Duration::from_secs(21_600)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert!(
            parse_duration("6 hours")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_duration("0m").unwrap_err().contains("zero"));
    }

    #[test]
    fn cron_finds_the_next_time_in_the_zone() {
        let every6h = Cron::parse("0 */6 * * *").unwrap();
        let vn = offset!(+7);
        // 09:30 in Hanoi is 02:30 UTC: the next run is 12:00 Hanoi time.
        assert_eq!(
            every6h
                .next_after(datetime!(2026-11-27 02:30 UTC), vn)
                .unwrap(),
            datetime!(2026-11-27 12:00 +7)
        );
        // Weekdays at 02:15: from a Friday afternoon, the next is Monday.
        let weekdays = Cron::parse("15 2 * * 1-5").unwrap();
        assert_eq!(
            weekdays
                .next_after(datetime!(2026-11-27 15:00 +7), vn)
                .unwrap(),
            datetime!(2026-11-30 02:15 +7)
        );
        // The first day of each quarter.
        let quarterly = Cron::parse("0 0 1 1,4,7,10 *").unwrap();
        assert_eq!(
            quarterly
                .next_after(datetime!(2026-11-27 0:00 +7), vn)
                .unwrap(),
            datetime!(2027-01-01 0:00 +7)
        );
        assert!(
            Cron::parse("0 0 30 2 *")
                .unwrap()
                .next_after(datetime!(2026-01-01 0:00 UTC), vn)
                .is_none()
        );
    }

    #[test]
    fn bad_cron_expressions_say_what_is_wrong() {
        assert!(Cron::parse("* * *").unwrap_err().contains("five fields"));
        assert!(
            Cron::parse("61 * * * *")
                .unwrap_err()
                .contains("minute: `61` is outside 0-59")
        );
        assert!(
            Cron::parse("*/0 * * * *")
                .unwrap_err()
                .contains("step of 0")
        );
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let s = Schedule::Every {
            interval: Duration::from_secs(3600),
            jitter: Duration::from_secs(360),
        };
        for _ in 0..100 {
            let w = s.wait(OffsetDateTime::now_utc()).as_secs();
            assert!((3240..=3960).contains(&w), "{w}");
        }
    }
}
