//! Prometheus text exposition (format 0.0.4), written once for every service: counters, gauges,
//! labelled series and a millisecond latency histogram, plus [`sample`] to read a page back.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// One Prometheus counter or gauge in text exposition format.
pub fn metric(kind: &str, name: &str, help: &str, value: u64) -> String {
    let mut page = Page::default();
    page.series(kind, name, help, value);
    page.finish()
}

/// A metrics page under construction.
#[derive(Debug, Default)]
pub struct Page {
    out: String,
}

impl Page {
    fn header(&mut self, kind: &str, name: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn series(&mut self, kind: &str, name: &str, help: &str, value: impl std::fmt::Display) -> &mut Self {
        self.header(kind, name, help);
        let _ = writeln!(self.out, "{name} {value}");
        self
    }

    /// A counter read from `value`.
    pub fn counter(&mut self, name: &str, help: &str, value: &AtomicU64) -> &mut Self {
        self.series("counter", name, help, value.load(Ordering::Relaxed))
    }

    /// A gauge.
    pub fn gauge(&mut self, name: &str, help: &str, value: i64) -> &mut Self {
        self.series("gauge", name, help, value)
    }

    /// One counter series per label value: `name{label="value"} n`.
    pub fn labelled<'a>(
        &mut self,
        name: &str,
        help: &str,
        label: &str,
        series: impl IntoIterator<Item = (&'a str, &'a AtomicU64)>,
    ) -> &mut Self {
        self.header("counter", name, help);
        for (value, counter) in series {
            let _ = writeln!(self.out, "{name}{{{label}=\"{value}\"}} {}", counter.load(Ordering::Relaxed));
        }
        self
    }

    /// A histogram of milliseconds, exposed in seconds as Prometheus expects.
    pub fn histogram(&mut self, name: &str, help: &str, histogram: &Histogram) -> &mut Self {
        self.header("histogram", name, help);
        self.histogram_series(name, "", histogram);
        self
    }

    /// One histogram series per label value: `name_bucket{label="value",le="..."}` and so on.
    pub fn labelled_histograms<'a, 'b>(
        &mut self,
        name: &str,
        help: &str,
        label: &str,
        series: impl IntoIterator<Item = (&'a str, &'b Histogram)>,
    ) -> &mut Self {
        self.header("histogram", name, help);
        for (value, histogram) in series {
            self.histogram_series(name, &format!("{label}=\"{value}\""), histogram);
        }
        self
    }

    fn histogram_series(&mut self, name: &str, labels: &str, histogram: &Histogram) {
        let (open, comma) = if labels.is_empty() { (String::new(), "") } else { (format!("{{{labels}}}"), ",") };
        let mut cumulative = 0;
        for (bound, bucket) in histogram.bounds_ms.iter().zip(&histogram.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ =
                writeln!(self.out, "{name}_bucket{{{labels}{comma}le=\"{}\"}} {cumulative}", *bound as f64 / 1000.0);
        }
        let count = histogram.count();
        let _ = writeln!(self.out, "{name}_bucket{{{labels}{comma}le=\"+Inf\"}} {count}");
        let _ = writeln!(self.out, "{name}_sum{open} {}", histogram.sum_ms.load(Ordering::Relaxed) as f64 / 1000.0);
        let _ = writeln!(self.out, "{name}_count{open} {count}");
    }

    /// Text of the page.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.out)
    }
}

/// Upper bounds (ms) of the latency histograms' buckets.
pub const LATENCY_BUCKETS_MS: [u64; 10] = [100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000];

/// Upper bounds (ms) for the stages of a latency (tens of milliseconds matter).
pub const STAGE_BUCKETS_MS: [u64; 12] = [10, 20, 40, 60, 100, 150, 200, 300, 500, 1000, 2000, 5000];

/// A Prometheus histogram of milliseconds with fixed buckets ([`LATENCY_BUCKETS_MS`]), shared
/// by every thread that observes into it.
#[derive(Debug)]
pub struct Histogram {
    bounds_ms: &'static [u64],
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_ms: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::with_bounds(&LATENCY_BUCKETS_MS)
    }
}

impl Histogram {
    /// A histogram with these bucket upper bounds (ms, ascending).
    pub fn with_bounds(bounds_ms: &'static [u64]) -> Histogram {
        Histogram {
            bounds_ms,
            buckets: bounds_ms.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_ms: AtomicU64::new(0),
        }
    }

    /// Counts one observation.
    pub fn observe(&self, ms: u64) {
        if let Some(bucket) = self.bounds_ms.iter().position(|&bound| ms <= bound).and_then(|i| self.buckets.get(i)) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// Reads one sample (`name` or `name{labels}`) from a Prometheus text page; for tests and tools.
pub fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_labels_and_histograms() {
        let frames = AtomicU64::new(7);
        let (busy, free) = (AtomicU64::new(2), AtomicU64::new(0));
        let latency = Histogram::default();
        for ms in [90, 250, 250, 9000] {
            latency.observe(ms);
        }
        let page = Page::default()
            .counter("frames_total", "Frames.", &frames)
            .gauge("active", "Active.", -1)
            .labelled("exits_total", "Exits.", "status", [("busy", &busy), ("free", &free)])
            .histogram("reply_seconds", "Reply.", &latency)
            .finish();
        assert!(page.contains("# HELP frames_total Frames.\n# TYPE frames_total counter\nframes_total 7\n"), "{page}");
        assert_eq!(sample(&page, "active"), Some(-1.0));
        assert_eq!(sample(&page, "exits_total{status=\"busy\"}"), Some(2.0));
        assert_eq!(sample(&page, "exits_total{status=\"free\"}"), Some(0.0));
        assert_eq!(sample(&page, "reply_seconds_bucket{le=\"0.1\"}"), Some(1.0));
        assert_eq!(sample(&page, "reply_seconds_bucket{le=\"0.3\"}"), Some(3.0));
        assert_eq!(sample(&page, "reply_seconds_bucket{le=\"5\"}"), Some(3.0));
        assert_eq!(sample(&page, "reply_seconds_bucket{le=\"+Inf\"}"), Some(4.0));
        assert_eq!(sample(&page, "reply_seconds_sum"), Some(9.59));
        assert_eq!(sample(&page, "reply_seconds_count"), Some(4.0));
        assert_eq!(metric("gauge", "up", "Up.", 1), "# HELP up Up.\n# TYPE up gauge\nup 1\n");
    }

    #[test]
    fn labelled_histograms_carry_the_label_on_every_series() {
        let (stt, tts) = (Histogram::with_bounds(&STAGE_BUCKETS_MS), Histogram::with_bounds(&STAGE_BUCKETS_MS));
        stt.observe(15);
        tts.observe(45);
        tts.observe(45);
        let page = Page::default()
            .labelled_histograms("stage_seconds", "Stages.", "stage", [("stt", &stt), ("tts", &tts)])
            .finish();
        assert_eq!(page.matches("# TYPE stage_seconds histogram").count(), 1, "{page}");
        assert_eq!(sample(&page, "stage_seconds_bucket{stage=\"stt\",le=\"0.02\"}"), Some(1.0));
        assert_eq!(sample(&page, "stage_seconds_bucket{stage=\"tts\",le=\"0.04\"}"), Some(0.0));
        assert_eq!(sample(&page, "stage_seconds_bucket{stage=\"tts\",le=\"0.06\"}"), Some(2.0));
        assert_eq!(sample(&page, "stage_seconds_bucket{stage=\"tts\",le=\"+Inf\"}"), Some(2.0));
        assert_eq!(sample(&page, "stage_seconds_sum{stage=\"tts\"}"), Some(0.09));
        assert_eq!(sample(&page, "stage_seconds_count{stage=\"stt\"}"), Some(1.0));
    }
}
