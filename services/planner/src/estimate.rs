//! What a plan may cost before it runs: agent runs, validation runs, tokens and dollars,
//! each as a range from "everything works the first time" to "every retry and fix round
//! the settings allow is used".
//!
//! Nothing here is measured: the token figures come from the assumptions below, each a
//! named constant, and the dollars from the model's prices. The estimate prices every run
//! at one model's prices (the profile the person plans with); workers and validators that
//! run on other profiles cost what their own models cost.

use std::collections::BTreeSet;
use std::fmt;

use sortie_agents::AgentUsage;
use sortie_agents::prices::TokenPrices;
use sortie_model::plan::Plan;

/// The minutes a feature without `estimate_minutes` is assumed to take an agent: about
/// one small change with its tests.
pub const DEFAULT_FEATURE_MINUTES: u32 = 30;

/// The minutes one validation run (a milestone's assertions and scrutiny in one
/// repository) is assumed to take.
pub const VALIDATION_RUN_MINUTES: u32 = 10;

/// The minutes one fix feature is assumed to take: a focused change against known
/// findings.
pub const FIX_RUN_MINUTES: u32 = 15;

/// The fix features one fix round is assumed to add per milestone and repository. The
/// orchestrator adds one per failed assertion, so a round where several assertions fail
/// costs more than this estimate says.
pub const FIX_FEATURES_PER_ROUND: u64 = 1;

/// Input tokens per minute of an agent's work: it makes a few model requests a minute,
/// each resending its context (tens of thousands of tokens, growing as it works). All of
/// them are priced as uncached input; prompt caching makes real runs cheaper.
pub const INPUT_TOKENS_PER_MINUTE: Range<u64> = Range {
    low: 20_000,
    high: 80_000,
};

/// Output tokens per minute of an agent's work: code, commands and the handoff.
pub const OUTPUT_TOKENS_PER_MINUTE: Range<u64> = Range {
    low: 500,
    high: 2_000,
};

/// A low and a high figure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range<T> {
    pub low: T,
    pub high: T,
}

/// What the estimate prices the runs with.
#[derive(Clone, Debug, PartialEq)]
pub struct EstimateInputs {
    /// The model's name, as the profile gives it.
    pub model: String,
    /// The model's prices (`sortie_agents::prices::prices_for`); none when neither the
    /// profile nor the price table knows them.
    pub prices: Option<TokenPrices>,
}

/// A plan's cost, as ranges.
#[derive(Clone, Debug, PartialEq)]
pub struct CostEstimate {
    /// Worker runs: each feature once, up to each feature's every attempt plus the fix
    /// features of every fix round.
    pub agent_runs: Range<u64>,
    /// Validation runs: one per milestone and repository, up to one more after each fix
    /// round; none when the plan turns validation off.
    pub validation_runs: Range<u64>,
    pub input_tokens: Range<u64>,
    pub output_tokens: Range<u64>,
    /// None when the model's prices are unknown.
    pub dollars: Option<Range<f64>>,
    /// The model the dollars are priced at.
    pub model: String,
}

/// Estimates what running `plan` costs; pure, from the plan's features and settings and
/// the assumptions above.
pub fn estimate(plan: &Plan, inputs: &EstimateInputs) -> CostEstimate {
    let settings = &plan.settings;
    let attempts = u64::from(settings.max_attempts_per_feature.max(1));
    let feature_minutes: u64 = plan
        .features
        .iter()
        .map(|feature| u64::from(feature.estimate_minutes.unwrap_or(DEFAULT_FEATURE_MINUTES)))
        .sum();
    let validated_pairs = if settings.validation {
        milestone_repository_pairs(plan)
    } else {
        0
    };
    let fix_rounds = if settings.validation {
        u64::from(settings.max_fix_rounds)
    } else {
        0
    };
    let fix_runs = validated_pairs * fix_rounds * FIX_FEATURES_PER_ROUND;

    let features = plan.features.len() as u64;
    let agent_runs = Range {
        low: features,
        high: features * attempts + fix_runs,
    };
    let validation_runs = Range {
        low: validated_pairs,
        high: validated_pairs * (1 + fix_rounds),
    };
    let validation_minutes = u64::from(VALIDATION_RUN_MINUTES);
    let minutes = Range {
        low: feature_minutes + validation_runs.low * validation_minutes,
        high: feature_minutes * attempts
            + fix_runs * u64::from(FIX_RUN_MINUTES)
            + validation_runs.high * validation_minutes,
    };
    let input_tokens = Range {
        low: minutes.low * INPUT_TOKENS_PER_MINUTE.low,
        high: minutes.high * INPUT_TOKENS_PER_MINUTE.high,
    };
    let output_tokens = Range {
        low: minutes.low * OUTPUT_TOKENS_PER_MINUTE.low,
        high: minutes.high * OUTPUT_TOKENS_PER_MINUTE.high,
    };
    let dollars = inputs.prices.map(|prices| Range {
        low: price(&prices, input_tokens.low, output_tokens.low),
        high: price(&prices, input_tokens.high, output_tokens.high),
    });
    CostEstimate {
        agent_runs,
        validation_runs,
        input_tokens,
        output_tokens,
        dollars,
        model: inputs.model.clone(),
    }
}

/// How many (milestone, repository) pairs have features, each validated on its own.
fn milestone_repository_pairs(plan: &Plan) -> u64 {
    let pairs: BTreeSet<(&str, &str)> = plan
        .features
        .iter()
        .map(|feature| (feature.milestone.as_str(), feature.repository.as_str()))
        .collect();
    pairs.len() as u64
}

fn price(prices: &TokenPrices, input_tokens: u64, output_tokens: u64) -> f64 {
    prices.cost(&AgentUsage {
        input_tokens,
        output_tokens,
        ..AgentUsage::default()
    })
}

impl fmt::Display for CostEstimate {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "estimate: {}-{} agent runs, {}-{} validation runs, tokens in {}-{}, out {}-{}; ",
            self.agent_runs.low,
            self.agent_runs.high,
            self.validation_runs.low,
            self.validation_runs.high,
            tokens(self.input_tokens.low),
            tokens(self.input_tokens.high),
            tokens(self.output_tokens.low),
            tokens(self.output_tokens.high),
        )?;
        match &self.dollars {
            Some(dollars) => write!(
                formatter,
                "${:.2}-${:.2} at {}'s prices",
                dollars.low, dollars.high, self.model
            ),
            None => write!(formatter, "dollars unknown (no prices for {})", self.model),
        }
    }
}

/// A token count for people: 950, 12k, 3.4M.
fn tokens(count: u64) -> String {
    match count {
        0..1_000 => count.to_string(),
        1_000..1_000_000 => format!("{}k", count / 1_000),
        _ => format!("{:.1}M", count as f64 / 1_000_000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two milestones in one repository: three features, one of them sized.
    fn two_milestone_plan(attempts: u32, fix_rounds: u32) -> Plan {
        let text = format!(
            r#"
[mission]
name = "notes"
goal = "Notes with tags"
[settings]
max_attempts_per_feature = {attempts}
max_fix_rounds = {fix_rounds}
[[repositories]]
name = "app"
url = "/srv/app"
[[milestones]]
id = "m1"
title = "Storage"
[[milestones]]
id = "m2"
title = "Tags"
[[features]]
id = "F-STORE"
title = "Store notes"
milestone = "m1"
estimate_minutes = 60
fulfills = ["VAL-NOTES-001"]
[[features]]
id = "F-LIST"
title = "List notes"
milestone = "m1"
preconditions = ["F-STORE"]
fulfills = ["VAL-NOTES-001"]
[[features]]
id = "F-TAGS"
title = "Tag notes"
milestone = "m2"
preconditions = ["F-LIST"]
fulfills = ["VAL-NOTES-001"]
[[assertions]]
id = "VAL-NOTES-001"
statement = "The tests pass"
check = {{ kind = "command", run = "make test" }}
"#
        );
        sortie_model::mission_file::parse("m.toml", &text)
            .expect("the test plan is valid")
            .plan
    }

    fn priced(input_per_million: f64, output_per_million: f64) -> EstimateInputs {
        EstimateInputs {
            model: "a-model".to_owned(),
            prices: Some(TokenPrices {
                input_per_million,
                output_per_million,
                cached_input_per_million: None,
            }),
        }
    }

    #[test]
    fn runs_range_from_each_feature_once_to_every_retry_and_fix_round() {
        let estimate = estimate(&two_milestone_plan(2, 1), &priced(1.0, 1.0));
        // Three features; at worst each twice, plus one fix feature per milestone.
        assert_eq!(
            estimate.agent_runs,
            Range {
                low: 3,
                high: 3 * 2 + 2
            }
        );
        // One validation per milestone, and one more after its fix round.
        assert_eq!(estimate.validation_runs, Range { low: 2, high: 4 });

        let minutes_low =
            60 + 2 * u64::from(DEFAULT_FEATURE_MINUTES) + 2 * u64::from(VALIDATION_RUN_MINUTES);
        assert_eq!(
            estimate.input_tokens.low,
            minutes_low * INPUT_TOKENS_PER_MINUTE.low
        );
        assert!(estimate.input_tokens.high > estimate.input_tokens.low);
        assert!(estimate.output_tokens.high > estimate.output_tokens.low);
    }

    #[test]
    fn without_validation_there_are_no_validation_runs_or_fix_rounds() {
        let mut plan = two_milestone_plan(3, 3);
        plan.settings.validation = false;
        let estimate = estimate(&plan, &priced(1.0, 1.0));
        assert_eq!(estimate.agent_runs, Range { low: 3, high: 9 });
        assert_eq!(estimate.validation_runs, Range { low: 0, high: 0 });
    }

    #[test]
    fn dollars_scale_with_the_prices() {
        let plan = two_milestone_plan(3, 3);
        let cheap = estimate(&plan, &priced(1.0, 5.0)).dollars.expect("priced");
        let dear = estimate(&plan, &priced(3.0, 15.0)).dollars.expect("priced");
        assert!(cheap.low > 0.0 && cheap.low < cheap.high);
        assert!((dear.low - 3.0 * cheap.low).abs() < 1e-9);
        assert!((dear.high - 3.0 * cheap.high).abs() < 1e-9);
    }

    #[test]
    fn an_unknown_model_has_no_dollars() {
        let inputs = EstimateInputs {
            model: "a-model-of-our-own".to_owned(),
            prices: None,
        };
        let estimate = estimate(&two_milestone_plan(3, 3), &inputs);
        assert_eq!(estimate.dollars, None);
        let line = estimate.to_string();
        assert!(
            line.contains("dollars unknown (no prices for a-model-of-our-own)"),
            "{line}"
        );
        assert!(
            line.starts_with("estimate: 3-15 agent runs, 2-8 validation runs"),
            "{line}"
        );
    }

    #[test]
    fn token_counts_read_as_people_write_them() {
        assert_eq!(tokens(950), "950");
        assert_eq!(tokens(12_400), "12k");
        assert_eq!(tokens(3_450_000), "3.5M");
    }
}
