//! Unix seconds as UTC calendar dates: one conversion for every timestamp the tool writes
//! (zip entries, the OCI manifest's `created`, the SBOM's timestamp), all from
//! `SOURCE_DATE_EPOCH`, so that the same input gives the same bytes.

/// The UTC calendar date and time of Unix seconds: (year, month, day, hour, minute, second).
pub(crate) fn civil_utc(unix: u64) -> (u64, u64, u64, u64, u64, u64) {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Days since 1970-01-01 to a date of the proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as u64, month as u64, day as u64, secs / 3600, (secs % 3600) / 60, secs % 60)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn rfc3339_utc(unix: u64) -> String {
    let (year, month, day, hour, minute, second) = civil_utc(unix);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(civil_utc(1_700_000_000), (2023, 11, 14, 22, 13, 20));
    }
}
