//! Percentiles, and how a figure grows with the mission's size.

use serde::Serialize;

/// p50, p99 and the maximum of some samples, in the samples' unit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Percentiles {
    pub fn of(samples: &[f64]) -> Self {
        let mut sorted: Vec<f64> = samples.iter().copied().filter(|s| s.is_finite()).collect();
        if sorted.is_empty() {
            return Self::default();
        }
        sorted.sort_by(f64::total_cmp);
        Self {
            count: sorted.len(),
            p50: percentile(&sorted, 0.50),
            p99: percentile(&sorted, 0.99),
            max: sorted[sorted.len() - 1],
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
        }
    }
}

/// The nearest-rank percentile of sorted samples: the smallest sample with at least a
/// share `quantile` of the samples at or below it.
pub fn percentile(sorted: &[f64], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (quantile.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The exponent `b` of `value ~ size^b` between the smallest and the largest size
/// measured (a log-log slope), or `None` with fewer than two usable points.
pub fn growth_exponent(points: &[(f64, f64)]) -> Option<f64> {
    let usable: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(size, value)| *size > 0.0 && *value > 0.0 && value.is_finite())
        .collect();
    let first = usable.first()?;
    let last = usable.last()?;
    if last.0 <= first.0 {
        return None;
    }
    Some((last.1 / first.1).ln() / (last.0 / first.0).ln())
}

/// In words: how a total grows with the features, given the exponent of the total.
pub fn describe_growth(exponent: Option<f64>) -> String {
    match exponent {
        None => "n/a".to_owned(),
        Some(exponent) if exponent < -0.15 => format!("falls (n^{exponent:.2})"),
        Some(exponent) if exponent < 0.15 => format!("constant (n^{exponent:.2})"),
        Some(exponent) if exponent < 0.85 => format!("sublinear (n^{exponent:.2})"),
        Some(exponent) if exponent <= 1.15 => format!("linear (n^{exponent:.2})"),
        Some(exponent) => format!("superlinear (n^{exponent:.2})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let summary = Percentiles::of(&samples);
        assert_eq!(summary.count, 100);
        assert_eq!(summary.p50, 50.0);
        assert_eq!(summary.p99, 99.0);
        assert_eq!(summary.max, 100.0);
        assert_eq!(summary.mean, 50.5);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 0.0), 1.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 0.5), 2.0);
        assert!(percentile(&[], 0.5).is_nan());
    }

    #[test]
    fn samples_out_of_order_and_not_finite() {
        let summary = Percentiles::of(&[3.0, f64::NAN, 1.0, 2.0]);
        assert_eq!(summary.count, 3);
        assert_eq!(summary.p50, 2.0);
        assert_eq!(summary.max, 3.0);
        assert_eq!(Percentiles::of(&[]), Percentiles::default());
    }

    #[test]
    fn growth_is_read_from_the_ends() {
        let linear = growth_exponent(&[(100.0, 2.0), (1_000.0, 20.0), (10_000.0, 200.0)]);
        assert!((linear.unwrap() - 1.0).abs() < 1e-9);
        let quadratic = growth_exponent(&[(100.0, 1.0), (1_000.0, 100.0)]);
        assert!((quadratic.unwrap() - 2.0).abs() < 1e-9);
        assert_eq!(growth_exponent(&[(100.0, 1.0)]), None);
        assert!(describe_growth(linear).starts_with("linear"));
        assert!(describe_growth(quadratic).starts_with("superlinear"));
        assert!(describe_growth(Some(0.0)).starts_with("constant"));
        assert!(describe_growth(Some(-0.5)).starts_with("falls"));
        assert_eq!(describe_growth(None), "n/a");
    }
}
