//! RFC 3339 timestamps (UTC) on `chrono`: formatting Unix seconds and
//! points in time, and parsing what `--since`/`--until` accept (Unix
//! seconds, an RFC 3339 date-time, or a date).

use std::time::SystemTime;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// `2026-11-22T10:30:00Z` for Unix seconds (the number itself when it is
/// out of chrono's range).
pub(crate) fn rfc3339(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0).map_or_else(
        || secs.to_string(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// `2026-11-22T10:30:00.123Z` for a point in time.
pub(crate) fn rfc3339_millis(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The current Unix time in seconds.
pub(crate) fn now_unix() -> i64 {
    Utc::now().timestamp()
}

/// Parses Unix seconds (`1763800000`), an RFC 3339 date-time
/// (`2026-11-22T10:30:00Z`, `2026-11-22T10:30:00.5+01:00`, a space instead
/// of `T` is accepted) or a date (`2026-11-22`, midnight UTC) into Unix seconds.
pub(crate) fn parse_time(input: &str) -> Result<i64, String> {
    let s = input.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .map_err(|_| format!("`{input}` is out of range"));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp());
    }
    Err(format!(
        "cannot read `{input}` as a time; expected Unix seconds, an RFC 3339 date-time with an offset (2026-11-22T10:30:00Z) or a date (2026-11-22)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

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
