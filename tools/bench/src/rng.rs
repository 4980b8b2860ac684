//! A small seeded random number generator and the duration distributions drawn from it.
//!
//! SplitMix64 rather than a crate: the same seed gives the same mission on every machine
//! and every version of the bench, which is what comparing runs needs.

use std::fmt;
use std::str::FromStr;

/// SplitMix64 (Steele, Lea and Flood): one 64-bit state, good enough for shapes and
/// durations, and stable forever.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        // The top 53 bits make every value an exact f64.
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// A whole number in `[0, bound)`; `bound` must be positive.
    pub fn below(&mut self, bound: usize) -> usize {
        debug_assert!(bound > 0, "an empty range has no member");
        // The modulo bias is at most bound / 2^64: nothing a benchmark can see.
        (self.next_u64() % bound as u64) as usize
    }

    /// A standard normal variate (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let first = 1.0 - self.unit(); // in (0, 1], so the logarithm is finite
        let second = self.unit();
        (-2.0 * first.ln()).sqrt() * (std::f64::consts::TAU * second).cos()
    }
}

/// The longest duration a feature is given, whatever the distribution draws.
pub const MAX_DURATION_MS: u64 = 600_000;

/// How long each feature's agent works: what the scripted agent sleeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Durations {
    /// A no-op agent: it writes its file and returns.
    Zero,
    Fixed {
        ms: u64,
    },
    /// Uniform in `[min, max]` milliseconds.
    Uniform {
        min: u64,
        max: u64,
    },
    /// Log-normal with the given median (milliseconds) and sigma: a few long features
    /// among many short ones, as real work is.
    LogNormal {
        median: u64,
        sigma: f64,
    },
}

impl Durations {
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        let drawn = match *self {
            Durations::Zero => 0,
            Durations::Fixed { ms } => ms,
            Durations::Uniform { min, max } => min + rng.below((max - min + 1) as usize) as u64,
            Durations::LogNormal { median, sigma } => {
                let value = median as f64 * (sigma * rng.normal()).exp();
                value.round().max(1.0) as u64
            }
        };
        drawn.min(MAX_DURATION_MS)
    }
}

impl fmt::Display for Durations {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Durations::Zero => write!(formatter, "0"),
            Durations::Fixed { ms } => write!(formatter, "fixed:{ms}"),
            Durations::Uniform { min, max } => write!(formatter, "uniform:{min}-{max}"),
            Durations::LogNormal { median, sigma } => {
                write!(formatter, "lognormal:{median}:{sigma}")
            }
        }
    }
}

impl FromStr for Durations {
    type Err = String;

    /// `0`, `fixed:MS`, `uniform:MIN-MAX` or `lognormal:MEDIAN:SIGMA` (milliseconds).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = |part: &str| {
            part.trim()
                .parse::<u64>()
                .map_err(|_| format!("{part:?} is not a whole number of milliseconds"))
        };
        let (kind, rest) = text.split_once(':').unwrap_or((text, ""));
        match kind {
            "0" | "noop" if rest.is_empty() => Ok(Durations::Zero),
            "fixed" => Ok(Durations::Fixed { ms: number(rest)? }),
            "uniform" => {
                let (min, max) = rest
                    .split_once('-')
                    .ok_or("uniform takes MIN-MAX, as in uniform:200-2000")?;
                let (min, max) = (number(min)?, number(max)?);
                if min > max {
                    return Err(format!("uniform:{min}-{max} has its bounds reversed"));
                }
                Ok(Durations::Uniform { min, max })
            }
            "lognormal" => {
                let (median, sigma) = rest
                    .split_once(':')
                    .ok_or("lognormal takes MEDIAN:SIGMA, as in lognormal:500:0.8")?;
                let sigma: f64 = sigma
                    .trim()
                    .parse()
                    .map_err(|_| format!("{sigma:?} is not a number"))?;
                if !(0.0..=4.0).contains(&sigma) {
                    return Err(format!("a sigma of {sigma} is outside 0 to 4"));
                }
                Ok(Durations::LogNormal {
                    median: number(median)?,
                    sigma,
                })
            }
            _ => Err(format!(
                "{text:?} is not a distribution: write 0, fixed:MS, uniform:MIN-MAX or \
                 lognormal:MEDIAN:SIGMA"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let mut first = Rng::new(7);
        let mut second = Rng::new(7);
        let drawn: Vec<u64> = (0..5).map(|_| first.next_u64()).collect();
        assert_eq!(drawn, (0..5).map(|_| second.next_u64()).collect::<Vec<_>>());
        assert_ne!(
            drawn,
            (0..5).map(|_| Rng::new(8).next_u64()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn draws_stay_in_their_ranges() {
        let mut rng = Rng::new(1);
        for _ in 0..10_000 {
            assert!((0.0..1.0).contains(&rng.unit()));
            assert!(rng.below(3) < 3);
            let uniform = Durations::Uniform { min: 5, max: 9 }.sample(&mut rng);
            assert!((5..=9).contains(&uniform));
        }
    }

    #[test]
    fn a_log_normal_has_about_its_median() {
        let mut rng = Rng::new(3);
        let durations = Durations::LogNormal {
            median: 500,
            sigma: 0.8,
        };
        let mut drawn: Vec<u64> = (0..20_001).map(|_| durations.sample(&mut rng)).collect();
        drawn.sort_unstable();
        let median = drawn[drawn.len() / 2];
        assert!((450..=550).contains(&median), "median {median}");
    }

    #[test]
    fn distributions_are_read_and_written_back() {
        for text in ["0", "fixed:250", "uniform:200-2000", "lognormal:500:0.8"] {
            let durations: Durations = text.parse().unwrap();
            assert_eq!(durations.to_string(), text);
        }
        assert!("uniform:9-1".parse::<Durations>().is_err());
        assert!("gaussian:1".parse::<Durations>().is_err());
        assert!("fixed:soon".parse::<Durations>().is_err());
    }
}
