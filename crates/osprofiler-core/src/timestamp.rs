//! Notification timestamps: microseconds since the Unix epoch, in UTC.
//!
//! Python OSprofiler writes `datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")` and reads
//! timestamps back with `datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%f")`. A trace point only
//! takes the clock ([`Timestamp::now`], no formatting); the notifier's worker formats it
//! later, and report building parses it again. Both directions are hand-written (no
//! calendar crate): formatting is on the worker's path and parsing on the report's path,
//! which handles a million timestamps per report.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// The format Python OSprofiler uses, for messages.
const PY_FORMAT: &str = "%Y-%m-%dT%H:%M:%S.%f";

/// A point in time: microseconds since 1970-01-01T00:00:00 UTC (negative before it).
///
/// Kept as one integer so that comparing, subtracting and taking the clock are cheap; the
/// text form exists only in notifications.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Timestamp(i64);

/// Why a timestamp string was refused by [`Timestamp::parse`].
///
/// Holds the start of the offending text (at most 64 characters), so that a report can say
/// which notification was skipped and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time data {input:?} does not match format '{PY_FORMAT}': {reason}")]
pub struct TimestampError {
    input: String,
    reason: &'static str,
}

impl TimestampError {
    fn new(input: &str, reason: &'static str) -> Self {
        const MAX_CHARS: usize = 64;
        let input = match input.char_indices().nth(MAX_CHARS) {
            Some((end, _)) => format!("{}...", &input[..end]),
            None => input.to_owned(),
        };
        TimestampError { input, reason }
    }

    /// What was wrong, e.g. `"month out of range"`.
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// The refused text (cut after 64 characters).
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl Timestamp {
    /// The timestamp `micros` microseconds after the Unix epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// The current time from the system clock. Only reads the clock: no formatting, no
    /// allocation (this runs on every trace point).
    pub fn now() -> Self {
        let micros = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_micros()).map_or(i64::MIN, |m| -m),
        };
        Timestamp(micros)
    }

    /// The timestamp of a UTC calendar date and time, or `None` if a field is out of range
    /// (year 1 to 9999, as Python's `datetime`; second 0 to 59).
    pub fn from_civil(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        micro: u32,
    ) -> Option<Self> {
        let valid = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year.into(), month)
            && hour < 24
            && minute < 60
            && second < 60
            && micro < 1_000_000;
        if !valid {
            return None;
        }
        let days = days_from_civil(year.into(), month, day);
        let secs = i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
        Some(Timestamp(
            days * MICROS_PER_DAY + secs * MICROS_PER_SECOND + i64::from(micro),
        ))
    }

    /// Parses `%Y-%m-%dT%H:%M:%S.%f` as Python's `datetime.strptime` accepts it: a
    /// four-digit year; month, day, hour, minute and second of one or two digits (a day may
    /// also be a space and one digit); 1 to 6 fraction digits, right-padded with zeros
    /// (`.77` is 770000 microseconds); the `T` in either case; nothing after the fraction.
    /// Where strptime's pattern has `\d` (the year, a lone hour, minute or second, the second
    /// digit of `1x`/`2x` days, `0x`/`1x` hours, `0x`..`5x` minutes and seconds), a decimal
    /// digit of another script (Unicode category Nd, e.g. `２` or `٣`) counts as Python's
    /// `int()` reads it; elsewhere only ASCII digits. Never panics.
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        match Self::parse_canonical(s.as_bytes()) {
            Some(t) => Ok(t),
            None => Self::parse_general(s),
        }
    }

    /// [`parse`](Self::parse) for any text.
    fn parse_general(s: &str) -> Result<Self, TimestampError> {
        let b = s.as_bytes();
        let mut p = Cursor { s, b, pos: 0 };
        let err = |reason| TimestampError::new(s, reason);

        let year = p
            .fixed4()
            .ok_or_else(|| err("expected a four-digit year"))?;
        p.expect(b'-')
            .ok_or_else(|| err("expected '-' after the year"))?;
        let month = p
            .field(Field::Month)
            .ok_or_else(|| err("expected a month"))?;
        p.expect(b'-')
            .ok_or_else(|| err("expected '-' after the month"))?;
        let day = p.field(Field::Day).ok_or_else(|| err("expected a day"))?;
        if !matches!(p.next(), Some(b'T' | b't')) {
            return Err(err("expected 'T' after the day"));
        }
        let hour = p
            .field(Field::Hour)
            .ok_or_else(|| err("expected an hour"))?;
        p.expect(b':')
            .ok_or_else(|| err("expected ':' after the hour"))?;
        let minute = p
            .field(Field::Minute)
            .ok_or_else(|| err("expected a minute"))?;
        p.expect(b':')
            .ok_or_else(|| err("expected ':' after the minute"))?;
        let second = p
            .field(Field::Second)
            .ok_or_else(|| err("expected a second"))?;
        p.expect(b'.')
            .ok_or_else(|| err("expected '.' after the second"))?;
        let micro = p
            .fraction()
            .ok_or_else(|| err("expected 1 to 6 fraction digits"))?;
        if p.pos != b.len() {
            return Err(err("unconverted data remains"));
        }

        if year == 0 {
            return Err(err("year out of range"));
        }
        if !(1..=12).contains(&month) {
            return Err(err("month out of range"));
        }
        if day == 0 || day > days_in_month(year.into(), month) {
            return Err(err("day out of range for month"));
        }
        if hour > 23 {
            return Err(err("hour out of range"));
        }
        if minute > 59 {
            return Err(err("minute out of range"));
        }
        if second > 59 {
            return Err(err("second out of range"));
        }
        let days = days_from_civil(year.into(), month, day);
        let secs = i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
        Ok(Timestamp(
            days * MICROS_PER_DAY + secs * MICROS_PER_SECOND + i64::from(micro),
        ))
    }

    /// The form Python writes, exactly `YYYY-MM-DDTHH:MM:SS.ffffff`, read eight bytes at a
    /// time (a report parses a million of them); `None` for anything else, including
    /// out-of-range fields, which [`parse`](Self::parse) then reads or refuses with its
    /// reason.
    #[inline]
    fn parse_canonical(b: &[u8]) -> Option<Self> {
        const ONES: u64 = 0x0101_0101_0101_0101;
        let b: &[u8; 26] = b.try_into().ok()?;
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[at..at + 8]);
            u64::from_le_bytes(w)
        };
        // Bytes 0..24 as three words, each with its separators (`sep`, in the bytes `seps`
        // marks) and digits (the other bytes), plus the last two fraction digits.
        let words = [word(0), word(8), word(16)];
        const SEPS: [u64; 3] = [
            0xff00_00ff_0000_0000,
            0x0000_ff00_00ff_0000,
            0x0000_0000_ff00_00ff,
        ];
        const SEP: [u64; 3] = [
            (b'-' as u64) << 56 | (b'-' as u64) << 32,
            (b':' as u64) << 40 | (b'T' as u64) << 16,
            (b'.' as u64) << 24 | b':' as u64,
        ];
        let mut digits = [0u64; 3];
        for i in 0..3 {
            if words[i] & SEPS[i] != SEP[i] {
                return None;
            }
            // Digits become 0..=9: no bits above the low nibble, even after adding 6.
            let x = (words[i] ^ (ONES * 0x30)) & !SEPS[i];
            if (x | x.wrapping_add(ONES * 6)) & (ONES * 0xf0) & !SEPS[i] != 0 {
                return None;
            }
            // Each byte: ten times its digit plus the next byte's digit.
            digits[i] = x * 10 + (x >> 8);
        }
        let byte = |w: u64, i: u32| ((w >> (8 * i)) & 0xff) as u32;
        let (tail_hi, tail_lo) = (b[24].wrapping_sub(b'0'), b[25].wrapping_sub(b'0'));
        if tail_hi > 9 || tail_lo > 9 {
            return None;
        }
        let [date, time, frac] = digits;
        let year = byte(date, 0) * 100 + byte(date, 2);
        let micro = byte(frac, 4) * 10_000
            + byte(frac, 6) * 100
            + u32::from(tail_hi) * 10
            + u32::from(tail_lo);
        Self::from_civil(
            i32::try_from(year).ok()?,
            byte(date, 5),
            byte(time, 0),
            byte(time, 3),
            byte(time, 6),
            byte(frac, 1),
            micro,
        )
    }

    /// Appends `%Y-%m-%dT%H:%M:%S.%f` (always six fraction digits, UTC) to `buf` without
    /// going through `fmt`: the notifier formats every notification's timestamp.
    pub fn write_to(&self, buf: &mut String) {
        self.write_with(buf, b'T');
    }

    /// oslo.messaging's message timestamp, `YYYY-MM-DD HH:MM:SS.ffffff` (a space instead of
    /// the `T`).
    pub fn format_messaging(&self) -> String {
        let mut s = String::with_capacity(26);
        self.write_with(&mut s, b' ');
        s
    }

    fn write_with(&self, buf: &mut String, sep: u8) {
        let Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
            micro,
        } = Civil::from_micros(self.0);
        if !(0..=9999).contains(&year) {
            // Outside what Python's datetime can hold: still print something sensible.
            use fmt::Write as _;
            let _ = write!(
                buf,
                "{year:04}-{month:02}-{day:02}{}{hour:02}:{minute:02}:{second:02}.{micro:06}",
                char::from(sep)
            );
            return;
        }
        let mut out = [0u8; 26];
        // `year` is in 0..=9999 here, so the casts cannot truncate.
        put_digits(&mut out[0..4], year as u32);
        out[4] = b'-';
        put_digits(&mut out[5..7], month);
        out[7] = b'-';
        put_digits(&mut out[8..10], day);
        out[10] = sep;
        put_digits(&mut out[11..13], hour);
        out[13] = b':';
        put_digits(&mut out[14..16], minute);
        out[16] = b':';
        put_digits(&mut out[17..19], second);
        out[19] = b'.';
        put_digits(&mut out[20..26], micro);
        // Only ASCII digits and separators were written.
        buf.extend(out.iter().map(|&c| char::from(c)));
    }
}

impl fmt::Display for Timestamp {
    /// `%Y-%m-%dT%H:%M:%S.%f`, as in notifications.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(26);
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

struct Cursor<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
}

/// A field of one or two digits, for what strptime's pattern for it takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    /// `1[0-2]|0[1-9]|[1-9]`
    Month,
    /// `3[01]|[12]\d|0[1-9]|[1-9]| [1-9]`
    Day,
    /// `2[0-3]|[0-1]\d|\d`
    Hour,
    /// `[0-5]\d|\d`
    Minute,
    /// `6[0-1]|[0-5]\d|\d`
    Second,
}

impl Field {
    /// Whether two digits, the first ASCII `first`, may end with another script's digit
    /// (the alternative has `\d` there).
    fn other_second(self, first: u32) -> bool {
        match self {
            Field::Month => false,
            Field::Day => matches!(first, 1 | 2),
            Field::Hour => first <= 1,
            Field::Minute | Field::Second => first <= 5,
        }
    }

    /// Whether one digit of another script may stand alone (a lone `\d`).
    fn other_alone(self) -> bool {
        matches!(self, Field::Hour | Field::Minute | Field::Second)
    }
}

/// The zeros of the decimal digits (Unicode category Nd) of Unicode 14.0, the version of
/// Python 3.11's `unicodedata`: each is followed by its script's 1 to 9. Python's `\d`
/// matches them and `int()` reads them.
const DIGIT_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// The value of a decimal digit of any script (Unicode category Nd), as Python's `int()`.
fn decimal_value(c: char) -> Option<u32> {
    let c = u32::from(c);
    let i = DIGIT_ZEROS
        .partition_point(|&zero| zero <= c)
        .checked_sub(1)?;
    let value = c - DIGIT_ZEROS[i];
    (value < 10).then_some(value)
}

impl Cursor<'_> {
    fn next(&mut self) -> Option<u8> {
        let c = *self.b.get(self.pos)?;
        self.pos += 1;
        Some(c)
    }

    fn digit(&self, at: usize) -> Option<u32> {
        match self.b.get(at) {
            Some(c) if c.is_ascii_digit() => Some(u32::from(c - b'0')),
            _ => None,
        }
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    /// The decimal digit of any script at byte `at` (ASCII first), with its length in bytes.
    fn any_digit(&self, at: usize) -> Option<(u32, usize)> {
        if let Some(d) = self.digit(at) {
            return Some((d, 1));
        }
        if self.b.get(at).is_some_and(u8::is_ascii) {
            return None;
        }
        let c = self.s.get(at..)?.chars().next()?;
        Some((decimal_value(c)?, c.len_utf8()))
    }

    /// `%Y`: four digits, of any script (`\d\d\d\d`).
    fn fixed4(&mut self) -> Option<u32> {
        let mut v = 0;
        for _ in 0..4 {
            let (d, len) = self.any_digit(self.pos)?;
            v = v * 10 + d;
            self.pos += len;
        }
        Some(v)
    }

    /// One or two digits (strptime's `%m`, `%d`, `%H`, `%M`, `%S`); `%d` also takes a space
    /// followed by one digit. Its regex alternatives, each followed by a non-digit separator,
    /// come down to "the run of at most two digits", with the range checked afterwards; a
    /// digit of another script only where the alternative has `\d` ([`Field`]).
    fn field(&mut self, field: Field) -> Option<u32> {
        if field == Field::Day && self.b.get(self.pos) == Some(&b' ') {
            let d = self.digit(self.pos + 1)?;
            if self.digit(self.pos + 2).is_some() {
                return None;
            }
            self.pos += 2;
            return Some(d);
        }
        let (first, first_len) = self.any_digit(self.pos)?;
        match self.any_digit(self.pos + first_len) {
            Some((second, second_len)) => {
                // No alternative starts with `\d` followed by a digit.
                let takes = first_len == 1 && (second_len == 1 || field.other_second(first));
                if !takes {
                    return None;
                }
                self.pos += first_len + second_len;
                Some(first * 10 + second)
            }
            None => {
                if first_len > 1 && !field.other_alone() {
                    return None;
                }
                self.pos += first_len;
                Some(first)
            }
        }
    }

    /// 1 to 6 digits, right-padded with zeros to microseconds.
    fn fraction(&mut self) -> Option<u32> {
        let mut v = 0;
        let mut n = 0;
        while n < 6 {
            match self.digit(self.pos) {
                Some(d) => {
                    v = v * 10 + d;
                    n += 1;
                    self.pos += 1;
                }
                None => break,
            }
        }
        if n == 0 {
            return None;
        }
        Some(v * 10u32.pow(6 - n))
    }
}

fn put_digits(out: &mut [u8], mut v: u32) {
    for slot in out.iter_mut().rev() {
        // `v % 10` is below 10, so it fits in a byte.
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    micro: u32,
}

impl Civil {
    /// The UTC calendar fields of `micros` (H. Hinnant's `civil_from_days`); total for every
    /// `i64`.
    fn from_micros(micros: i64) -> Civil {
        let days = micros.div_euclid(MICROS_PER_DAY);
        let in_day = micros.rem_euclid(MICROS_PER_DAY);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let secs = in_day / MICROS_PER_SECOND;
        // All of these are small and non-negative by construction.
        Civil {
            year,
            month: month as u32,
            day: day as u32,
            hour: (secs / 3600) as u32,
            minute: (secs / 60 % 60) as u32,
            second: (secs % 60) as u32,
            micro: (in_day % MICROS_PER_SECOND) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn epoch_and_known_values() {
        assert_eq!(ts("1970-01-01T00:00:00.000000").as_micros(), 0);
        assert_eq!(
            Timestamp::from_micros(0).to_string(),
            "1970-01-01T00:00:00.000000"
        );
        // date -u -d 2026-11-25T04:59:10.042928 +%s  -> 1795582750
        assert_eq!(
            ts("2026-11-25T04:59:10.042928").as_micros(),
            1_795_582_750_042_928
        );
        assert_eq!(
            Timestamp::from_micros(1_795_582_750_042_928).to_string(),
            "2026-11-25T04:59:10.042928"
        );
        assert_eq!(
            Timestamp::from_micros(1_795_582_750_042_928).format_messaging(),
            "2026-11-25 04:59:10.042928"
        );
    }

    #[test]
    fn leap_years() {
        assert!(Timestamp::parse("2024-02-29T00:00:00.0").is_ok());
        assert!(Timestamp::parse("2000-02-29T00:00:00.0").is_ok());
        assert_eq!(
            Timestamp::parse("1900-02-29T00:00:00.0")
                .unwrap_err()
                .reason(),
            "day out of range for month"
        );
        assert!(Timestamp::parse("2023-02-29T00:00:00.0").is_err());
        assert_eq!(
            ts("2024-02-29T23:59:59.999999").as_micros() + 1,
            ts("2024-03-01T00:00:00.000000").as_micros()
        );
        assert_eq!(
            ts("2024-12-31T00:00:00.0").as_micros() - ts("2024-01-01T00:00:00.0").as_micros(),
            365 * MICROS_PER_DAY
        );
    }

    #[test]
    fn before_1970_and_extremes() {
        assert_eq!(ts("1969-12-31T23:59:59.999999").as_micros(), -1);
        assert_eq!(
            Timestamp::from_micros(-1).to_string(),
            "1969-12-31T23:59:59.999999"
        );
        let first = ts("0001-01-01T00:00:00.000000");
        assert_eq!(first.as_micros(), -62_135_596_800_000_000);
        assert_eq!(first.to_string(), "0001-01-01T00:00:00.000000");
        let last = ts("9999-12-31T23:59:59.999999");
        assert_eq!(last.to_string(), "9999-12-31T23:59:59.999999");
        // Outside Python's range: printed, never a panic.
        let _ = Timestamp::from_micros(i64::MIN).to_string();
        let _ = Timestamp::from_micros(i64::MAX).format_messaging();
        assert_eq!(
            Timestamp::from_micros(last.as_micros() + 1).to_string(),
            "10000-01-01T00:00:00.000000"
        );
    }

    #[test]
    fn strptime_leniency() {
        // Fractions are right-padded, as Python's %f.
        assert_eq!(
            ts("2016-04-18T17:42:10.77"),
            ts("2016-04-18T17:42:10.770000")
        );
        assert_eq!(ts("2016-04-18T17:42:10.7").as_micros() % 1_000_000, 700_000);
        // One-digit fields, a space-padded day, a lower-case 't'.
        assert_eq!(ts("2016-4-8T7:2:1.5"), ts("2016-04-08T07:02:01.500000"));
        assert_eq!(
            ts("2016-04- 8T07:02:01.5"),
            ts("2016-04-08T07:02:01.500000")
        );
        assert_eq!(
            ts("2016-04-08t07:02:01.5"),
            ts("2016-04-08T07:02:01.500000")
        );
    }

    #[test]
    fn strptime_refusals() {
        for bad in [
            "",
            "2016-04-18T17:42:10",
            "2016-04-18T17:42:10.",
            "2016-04-18T17:42:10.1234567",
            "2016-04-18T17:42:10.123456Z",
            "2016-04-18 17:42:10.123456",
            "16-04-18T17:42:10.1",
            "02016-04-18T17:42:10.1",
            "0000-01-01T00:00:00.0",
            "2016-00-18T17:42:10.1",
            "2016-13-18T17:42:10.1",
            "2016-004-18T17:42:10.1",
            "2016-04-00T17:42:10.1",
            "2016-04-31T17:42:10.1",
            "2016-04-  8T17:42:10.1",
            "2016-04- 18T17:42:10.1",
            "2016-04-18T24:42:10.1",
            "2016-04-18T17:60:10.1",
            "2016-04-18T17:42:60.1",
            "2016-04-18T17:42:61.1",
            " 2016-04-18T17:42:10.1",
            "2016-04-18T17:42:10.1 ",
            "2016-04-18T17:42:10.-1",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let e = Timestamp::parse("2016-04-18T17:42:10.1234567").unwrap_err();
        assert_eq!(e.reason(), "unconverted data remains");
        assert!(e.to_string().contains("%Y-%m-%dT%H:%M:%S.%f"), "{e}");
        let long = "x".repeat(1000);
        assert!(Timestamp::parse(&long).unwrap_err().input().len() < 100);
    }

    /// Found by `crates/osprofiler/tests/python_oracle.rs`: strptime's `\d` takes decimal
    /// digits of every script (Python's `int()` reads them), so Python reads
    /// `2005-06-30T18:5𝟐:52.7`; its explicit classes (`[0-9]`, `[1-9]`, `1[0-2]`, ...) take
    /// ASCII only. Each case was checked with Python 3.11's `datetime.strptime`.
    #[test]
    fn digits_of_other_scripts_where_strptime_takes_them() {
        for (text, same_as) in [
            ("２016-04-18T17:42:10.1", "2016-04-18T17:42:10.1"),
            ("2016-04-1٨T17:42:10.1", "2016-04-18T17:42:10.1"),
            ("2016-04-18T1٧:42:10.1", "2016-04-18T17:42:10.1"),
            ("2005-06-30T18:5𝟐:52.7", "2005-06-30T18:52:52.7"),
            ("2016-04-18T٧:4:1.1", "2016-04-18T07:04:01.1"),
            ("2016-04-18T17:42:٥.1", "2016-04-18T17:42:05.1"),
        ] {
            assert_eq!(ts(text), ts(same_as), "{text}");
        }
        for bad in [
            "2016-04-18T17:42:10.1٧",
            "2016-04-18T17:42:10.١",
            "2016-0٤-18T17:42:10.1",
            "2016-04-3٠T17:42:10.1",
            "2016-04-٨T17:42:10.1",
            "2016-04- ٨T17:42:10.1",
            "2016-04-18T2٣:42:10.1",
            "2016-04-18T٢٣:42:10.1",
            "2016-04-18T17:42:6١.1",
            "٠٠٠٠-04-18T17:42:10.1",
            "2016-04-18T17:42:10½",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(decimal_value('0'), Some(0));
        assert_eq!(decimal_value('𝟿'), Some(9));
        assert_eq!(decimal_value('/'), None);
        assert_eq!(decimal_value('²'), None);
        assert_eq!(decimal_value('\u{10ffff}'), None);
    }

    #[test]
    fn now_is_recent_and_write_to_appends() {
        let now = Timestamp::now();
        assert!(now > ts("2020-01-01T00:00:00.0"));
        let mut buf = String::from("at ");
        now.write_to(&mut buf);
        assert_eq!(buf.len(), 3 + 26);
        assert_eq!(Timestamp::parse(&buf[3..]), Ok(now));
    }

    #[test]
    fn from_civil_matches_parse() {
        assert_eq!(
            Timestamp::from_civil(2026, 11, 25, 4, 59, 10, 42_928),
            Some(ts("2026-11-25T04:59:10.042928"))
        );
        assert_eq!(Timestamp::from_civil(2023, 2, 29, 0, 0, 0, 0), None);
        assert_eq!(Timestamp::from_civil(0, 1, 1, 0, 0, 0, 0), None);
    }

    // Years 1..=9999, the range of Python's datetime.
    const MIN_MICROS: i64 = -62_135_596_800_000_000;
    const MAX_MICROS: i64 = 253_402_300_799_999_999;

    proptest! {
        #[test]
        fn parse_of_format_round_trips(m in MIN_MICROS..=MAX_MICROS) {
            let t = Timestamp::from_micros(m);
            let text = t.to_string();
            prop_assert_eq!(text.len(), 26);
            prop_assert_eq!(Timestamp::parse(&text), Ok(t));
            let messaging = t.format_messaging();
            prop_assert_eq!(&messaging[..10], &text[..10]);
            prop_assert_eq!(&messaging[11..], &text[11..]);
        }

        #[test]
        fn the_fast_path_agrees_with_the_general_parser(
            s in r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}",
            near in "[0-9 tT:.-]{24,28}",
        ) {
            prop_assert_eq!(Timestamp::parse_canonical(s.as_bytes()), Timestamp::parse_general(&s).ok());
            if let Some(t) = Timestamp::parse_canonical(near.as_bytes()) {
                prop_assert_eq!(Timestamp::parse_general(&near), Ok(t));
            }
        }

        #[test]
        fn the_fast_path_agrees_whatever_byte_changes(m in MIN_MICROS..=MAX_MICROS, at in 0usize..26, c in any::<u8>()) {
            let mut b = Timestamp::from_micros(m).to_string().into_bytes();
            b[at] = c;
            let fast = Timestamp::parse_canonical(&b);
            match std::str::from_utf8(&b) {
                Ok(s) => {
                    // The fast path may leave a text to the general parser (a lower-case
                    // `t`), never read it differently.
                    if let Some(t) = fast {
                        prop_assert_eq!(Timestamp::parse_general(s), Ok(t));
                    }
                    prop_assert_eq!(Timestamp::parse(s), Timestamp::parse_general(s));
                }
                Err(_) => prop_assert_eq!(fast, None),
            }
        }

        #[test]
        fn parse_never_panics(s in ".{0,40}") {
            let _ = Timestamp::parse(&s);
        }

        #[test]
        fn parse_never_panics_on_near_misses(s in "[0-9 tT:.-]{0,30}") {
            if let Ok(t) = Timestamp::parse(&s) {
                // Whatever it accepts prints back to something it reads as the same time.
                prop_assert_eq!(Timestamp::parse(&t.to_string()), Ok(t));
            }
        }

        #[test]
        fn civil_fields_round_trip(
            y in 1i32..=9999, mo in 1u32..=12, d in 1u32..=31,
            h in 0u32..24, mi in 0u32..60, s in 0u32..60, us in 0u32..1_000_000,
        ) {
            if let Some(t) = Timestamp::from_civil(y, mo, d, h, mi, s, us) {
                let want = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}");
                prop_assert_eq!(t.to_string(), want);
            } else {
                prop_assert!(d > days_in_month(y.into(), mo));
            }
        }
    }
}
