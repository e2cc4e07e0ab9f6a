//! The scenario's clock: its day (作成年月日 of new records, the date in ファイル連番), the serials
//! it hands out, and the exchange's offset from the real clock (D-HARNESS-CLOCK).

use careplan_spec::Serial;

use crate::scenario::parse_day;

pub(super) struct Clock {
    pub today: time::Date,
    seconds: u32,
    /// Seconds between the exchange's clock and the real one.
    pub hub_offset: i64,
}

impl Clock {
    pub fn new(today: time::Date, hub_offset: i64) -> Self {
        Self {
            today,
            seconds: 0,
            hub_offset,
        }
    }

    pub fn today_text(&self) -> String {
        format!(
            "{:04}{:02}{:02}",
            self.today.year(),
            u8::from(self.today.month()),
            self.today.day()
        )
    }

    /// The day's first ファイル連番: today 10:00:00.
    fn first_serial(&self) -> Serial {
        Serial::parse(&format!("{}100000", self.today_text())).expect("a valid serial")
    }

    /// The clock as a replay bundle records it (before any serial is handed out).
    pub fn record(&self) -> crate::outcome::RunClock {
        crate::outcome::RunClock {
            today: format!(
                "{:04}-{:02}-{:02}",
                self.today.year(),
                u8::from(self.today.month()),
                self.today.day()
            ),
            exchange_start: exchange_start(self.today)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            first_serial: self.first_serial().as_str().to_owned(),
        }
    }

    /// A fresh ファイル連番: today 10:00:00 plus a counter, so that units are ordered as exported.
    pub fn next_serial(&mut self) -> Serial {
        let base = self.first_serial();
        // Leave room for a persona that splits one export into several units (one per month: a
        // second apart).
        let s = careplan_spec::convert::serial_plus_seconds(&base, self.seconds);
        self.seconds += 60;
        s
    }

    /// Moves the scenario's day and the exchange's offset on by `days`.
    pub fn advance(&mut self, days: i64) {
        self.today += time::Duration::days(days);
        self.hub_offset += days * 86_400;
    }
}

/// The exchange's clock at the start of a scenario: its first day at 10:00:00 UTC.
pub(super) fn exchange_start(today: time::Date) -> time::OffsetDateTime {
    today.with_hms(10, 0, 0).expect("a valid time").assume_utc()
}

/// A licence date: `YYYY-MM-DD`, or `+30d` / `-1d` relative to the scenario's first day (the
/// hub's clock starts there).
pub(super) fn resolve_until(text: &str, today: time::Date) -> Option<String> {
    if let Some(days) = text
        .strip_suffix('d')
        .and_then(|d| d.parse::<i64>().ok())
        .filter(|_| text.starts_with(['+', '-']))
    {
        let d = today + time::Duration::days(days);
        return Some(format!(
            "{:04}-{:02}-{:02}",
            d.year(),
            u8::from(d.month()),
            d.day()
        ));
    }
    parse_day(text).map(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_licence_dates_resolve_against_today() {
        let today = time::macros::date!(2025 - 05 - 27);
        assert_eq!(resolve_until("+30d", today).as_deref(), Some("2025-06-26"));
        assert_eq!(resolve_until("-1d", today).as_deref(), Some("2025-05-26"));
        assert_eq!(
            resolve_until("2027-03-31", today).as_deref(),
            Some("2027-03-31")
        );
        assert_eq!(resolve_until("soon", today), None);
    }

    #[test]
    fn serials_step_a_minute_per_export() {
        let mut c = Clock::new(time::macros::date!(2025 - 05 - 27), 0);
        assert_eq!(c.next_serial().as_str(), "20250527100000");
        assert_eq!(c.next_serial().as_str(), "20250527100100");
        let recorded = c.record();
        assert_eq!(recorded.today, "2025-05-27");
        assert_eq!(recorded.exchange_start, "2025-05-27T10:00:00Z");
        assert_eq!(recorded.first_serial, "20250527100000");
        c.advance(1);
        assert_eq!(c.today_text(), "20250528");
        assert_eq!(c.hub_offset, 86_400);
    }
}
