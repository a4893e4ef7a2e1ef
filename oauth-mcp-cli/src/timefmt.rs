//! RFC 3339 timestamps without a date-time dependency: formatting Unix
//! seconds and milliseconds (UTC), and parsing what `--since`/`--until`
//! accept (Unix seconds, an RFC 3339 date-time, or a date).

use std::time::{SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `2026-11-22T10:30:00Z` for Unix seconds.
pub(crate) fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `2026-11-22T10:30:00.123Z` for a point in time.
pub(crate) fn rfc3339_millis(t: SystemTime) -> String {
    let ms = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    };
    let secs = ms.div_euclid(1000);
    let base = rfc3339(secs);
    let stem = base.trim_end_matches('Z');
    format!("{stem}.{:03}Z", ms.rem_euclid(1000))
}

/// The current Unix time in seconds.
pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn num(s: &str, what: &str) -> Result<i64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad {what} `{s}`"));
    }
    s.parse::<i64>().map_err(|_| format!("bad {what} `{s}`"))
}

/// Parses Unix seconds (`1763800000`), an RFC 3339 date-time
/// (`2026-11-22T10:30:00Z`, `2026-11-22T10:30:00.5+01:00`, a space instead
/// of `T` is accepted) or a date (`2026-11-22`, midnight UTC) into Unix seconds.
pub(crate) fn parse_time(input: &str) -> Result<i64, String> {
    let s = input.trim();
    let expected = "expected Unix seconds, an RFC 3339 date-time (2026-11-22T10:30:00Z) or a date (2026-11-22)";
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .map_err(|_| format!("`{input}` is out of range"));
    }
    let err = |why: String| format!("cannot read `{input}` as a time: {why}; {expected}");
    let (date, rest) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(err("the date is not YYYY-MM-DD".into()));
    };
    let (y, m, d) = (
        num(y, "year").map_err(err)?,
        num(m, "month").map_err(err)?,
        num(d, "day").map_err(err)?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(err("month or day out of range".into()));
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    let Some(rest) = rest else {
        return Ok(secs);
    };
    // HH:MM:SS[.frac](Z|±HH:MM)
    let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (c, off) = rest.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..]
            .split_once(':')
            .ok_or_else(|| err("the offset is not ±HH:MM".into()))?;
        let o = num(oh, "offset hour").map_err(err)? * 3600
            + num(om, "offset minute").map_err(err)? * 60;
        (c, sign * o)
    } else {
        return Err(err("the time has no offset (add Z for UTC)".into()));
    };
    let clock = clock.split('.').next().unwrap_or(clock);
    let fields: Vec<&str> = clock.split(':').collect();
    let [h, mi, se] = fields.as_slice() else {
        return Err(err("the time is not HH:MM:SS".into()));
    };
    let (h, mi, se) = (
        num(h, "hour").map_err(err)?,
        num(mi, "minute").map_err(err)?,
        num(se, "second").map_err(err)?,
    );
    if h > 23 || mi > 59 || se > 60 {
        return Err(err("hour, minute or second out of range".into()));
    }
    secs += h * 3600 + mi * 60 + se - offset;
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_763_807_400), "2025-11-22T10:30:00Z");
        assert_eq!(parse_time("2025-11-22T10:30:00Z"), Ok(1_763_807_400));
        assert_eq!(
            parse_time("2025-11-22T11:30:00.250+01:00"),
            Ok(1_763_807_400)
        );
        assert_eq!(parse_time("2025-11-22 10:30:00z"), Ok(1_763_807_400));
        assert_eq!(parse_time("1763807400"), Ok(1_763_807_400));
        assert_eq!(parse_time("2025-11-22"), Ok(1_763_769_600));
        assert_eq!(parse_time("2000-02-29T00:00:00-00:30"), Ok(951_784_200));
        for bad in [
            "",
            "yesterday",
            "2025-13-01",
            "2025-11-22T10:30",
            "2025-11-22T10:30:00",
            "-5",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
        for secs in [0, 951_782_400, 1_763_807_400, 4_102_444_800] {
            assert_eq!(parse_time(&rfc3339(secs)), Ok(secs));
        }
        assert!(rfc3339_millis(UNIX_EPOCH).ends_with("00:00:00.000Z"));
    }
}
