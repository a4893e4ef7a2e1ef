//! Medians over rounds, same-round ratios, and the Markdown tables.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::load::Outcome;

/// One round of one target, reduced to numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoundStat {
    /// Operations per second.
    pub(crate) rate: f64,
    /// Median latency, ms.
    pub p50: f64,
    /// 99th-percentile latency, ms.
    pub p99: f64,
    /// Server CPU per operation, µs.
    pub(crate) cpu_us: f64,
    /// Failed operations.
    pub(crate) errors: u64,
    /// Ran out of prepared work before the window ended.
    pub(crate) ran_dry: bool,
}

impl RoundStat {
    /// Reduces a window's outcome.
    pub(crate) fn of(o: &mut Outcome) -> Self {
        Self {
            rate: o.rate(),
            p50: o.latency_ms(0.50),
            p99: o.latency_ms(0.99),
            cpu_us: o.cpu_us_per_op(),
            errors: o.errors,
            ran_dry: o.ran_dry,
        }
    }
}

/// The median (mean of the middle two for an even count); NaN when empty.
pub(crate) fn median(v: &[f64]) -> f64 {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Results by target name, in first-seen order, one entry per round.
#[derive(Debug, Default)]
pub(crate) struct Results {
    order: Vec<String>,
    by: BTreeMap<String, Vec<RoundStat>>,
}

impl Results {
    /// Records round `round` of `target`.
    pub(crate) fn push(&mut self, target: &str, s: RoundStat) {
        if !self.by.contains_key(target) {
            self.order.push(target.to_owned());
        }
        self.by.entry(target.to_owned()).or_default().push(s);
    }

    /// The targets in order.
    pub(crate) fn targets(&self) -> &[String] {
        &self.order
    }

    /// Every round of `target`.
    pub(crate) fn rounds(&self, target: &str) -> &[RoundStat] {
        self.by.get(target).map(Vec::as_slice).unwrap_or_default()
    }

    /// The median of `f` over `target`'s rounds.
    pub(crate) fn med(&self, target: &str, f: impl Fn(&RoundStat) -> f64) -> f64 {
        median(&self.rounds(target).iter().map(f).collect::<Vec<_>>())
    }

    /// The median over rounds of `f(target's round, base's same round)`.
    pub(crate) fn ratio(
        &self,
        target: &str,
        base: &str,
        f: impl Fn(&RoundStat, &RoundStat) -> f64,
    ) -> f64 {
        let t = self.rounds(target);
        let b = self.rounds(base);
        median(&t.iter().zip(b).map(|(t, b)| f(t, b)).collect::<Vec<_>>())
    }

    /// Errors over all rounds, and whether any round ran dry.
    pub(crate) fn trouble(&self, target: &str) -> (u64, bool) {
        let r = self.rounds(target);
        (
            r.iter().map(|s| s.errors).sum(),
            r.iter().any(|s| s.ran_dry),
        )
    }
}

fn num(x: f64) -> String {
    if !x.is_finite() {
        "–".into()
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let s = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn trouble_note(r: &Results, t: &str) -> String {
    match r.trouble(t) {
        (0, false) => "0".into(),
        (e, false) => e.to_string(),
        (e, true) => format!("{e} (ran dry)"),
    }
}

/// The resource-server table: medians and same-round ratios to `base`.
pub(crate) fn rs_table(r: &Results, base: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| target | req/s | p50 ms | p99 ms | server CPU µs/req | req/s ÷ bare axum | bare axum CPU/req ÷ CPU/req | errors |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for t in r.targets() {
        let _ = writeln!(
            s,
            "| {t} | {} | {} | {} | {} | {} | {} | {} |",
            thousands(r.med(t, |x| x.rate)),
            num(r.med(t, |x| x.p50)),
            num(r.med(t, |x| x.p99)),
            num(r.med(t, |x| x.cpu_us)),
            num(r.ratio(t, base, |t, b| t.rate / b.rate)),
            num(r.ratio(t, base, |t, b| b.cpu_us / t.cpu_us)),
            trouble_note(r, t),
        );
    }
    s
}

/// The token-endpoint table; ratios are to the memory store's same operation.
pub(crate) fn token_table(r: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| store / operation | ops/s | p50 ms | p99 ms | server CPU µs/op | p50 ÷ memory | ops/s ÷ memory | errors |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for t in r.targets() {
        let op = t.split_once(' ').map(|(_, op)| op).unwrap_or(t);
        let base = format!("memory {op}");
        let _ = writeln!(
            s,
            "| {t} | {} | {} | {} | {} | {} | {} | {} |",
            thousands(r.med(t, |x| x.rate)),
            num(r.med(t, |x| x.p50)),
            num(r.med(t, |x| x.p99)),
            num(r.med(t, |x| x.cpu_us)),
            num(r.ratio(t, &base, |t, b| t.p50 / b.p50)),
            num(r.ratio(t, &base, |t, b| t.rate / b.rate)),
            trouble_note(r, t),
        );
    }
    s
}

/// Every round of every target, for the record.
pub(crate) fn per_round(r: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| target | round | ops/s | p50 ms | p99 ms | CPU µs/op | errors |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
    for t in r.targets() {
        for (i, x) in r.rounds(t).iter().enumerate() {
            let _ = writeln!(
                s,
                "| {t} | {} | {} | {} | {} | {} | {}{} |",
                i + 1,
                thousands(x.rate),
                num(x.p50),
                num(x.p99),
                num(x.cpu_us),
                x.errors,
                if x.ran_dry { " (ran dry)" } else { "" }
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(rate: f64, cpu_us: f64) -> RoundStat {
        RoundStat {
            rate,
            p50: 1.0,
            p99: 2.0,
            cpu_us,
            errors: 0,
            ran_dry: false,
        }
    }

    #[test]
    fn medians_and_same_round_ratios() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        let mut r = Results::default();
        // Round 2 is slow for both (noise): the same-round ratio stays 0.5.
        for (b, t) in [(100.0, 50.0), (10.0, 5.0), (120.0, 60.0)] {
            r.push("bare", stat(b, 10.0));
            r.push("layer", stat(t, 20.0));
        }
        assert_eq!(r.ratio("layer", "bare", |t, b| t.rate / b.rate), 0.5);
        assert_eq!(r.ratio("layer", "bare", |t, b| b.cpu_us / t.cpu_us), 0.5);
        assert_eq!(r.med("layer", |x| x.rate), 50.0);
        assert!(
            rs_table(&r, "bare").contains("| layer | 50 | 1.00 | 2.00 | 20.0 | 0.50 | 0.50 | 0 |")
        );
        assert_eq!(thousands(60030.4), "60,030");
    }
}
