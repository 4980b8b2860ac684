//! What tokens cost: a price table shipped as data (`prices.json`), which a profile's
//! `prices` setting overrides.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use sortie_settings::PriceSettings;

use crate::AgentUsage;

/// Dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenPrices {
    pub input_per_million: f64,
    pub output_per_million: f64,
    /// Tokens read from the prompt cache; at the input price when not given.
    #[serde(default)]
    pub cached_input_per_million: Option<f64>,
}

impl TokenPrices {
    /// The dollars `usage`'s tokens cost.
    pub fn cost(&self, usage: &AgentUsage) -> f64 {
        let cached_price = self
            .cached_input_per_million
            .unwrap_or(self.input_per_million);
        (usage.input_tokens as f64 * self.input_per_million
            + usage.cached_input_tokens as f64 * cached_price
            + usage.output_tokens as f64 * self.output_per_million)
            / 1_000_000.0
    }
}

impl From<PriceSettings> for TokenPrices {
    fn from(prices: PriceSettings) -> Self {
        Self {
            input_per_million: prices.input_per_million,
            output_per_million: prices.output_per_million,
            cached_input_per_million: prices.cached_input_per_million,
        }
    }
}

#[derive(Deserialize)]
struct PriceTable {
    models: HashMap<String, TokenPrices>,
}

static TABLE: LazyLock<HashMap<String, TokenPrices>> = LazyLock::new(|| {
    serde_json::from_str::<PriceTable>(include_str!("prices.json"))
        .expect("prices.json is a price table")
        .models
});

/// The prices of `model`: the profile's own when it sets them, else the table's. A model
/// the table does not know, with a dated suffix (`gpt-5-2025-08-07`), is looked up by its
/// longest known prefix.
pub fn prices_for(model: Option<&str>, configured: Option<PriceSettings>) -> Option<TokenPrices> {
    if let Some(prices) = configured {
        return Some(prices.into());
    }
    let model = model?;
    TABLE.get(model).copied().or_else(|| {
        TABLE
            .iter()
            .filter(|(name, _)| model.starts_with(&format!("{name}-")))
            .max_by_key(|(name, _)| name.len())
            .map(|(_, prices)| *prices)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_loads_and_dated_models_find_their_prices() {
        let gpt5 = prices_for(Some("gpt-5"), None).expect("gpt-5 is in the table");
        assert_eq!(prices_for(Some("gpt-5-2025-08-07"), None), Some(gpt5));
        assert_ne!(prices_for(Some("gpt-5-mini-2025-08-07"), None), Some(gpt5));
        assert_eq!(prices_for(Some("a-model-of-our-own"), None), None);
        assert_eq!(prices_for(None, None), None);
    }

    #[test]
    fn cost_prices_each_kind_of_token() {
        let prices = TokenPrices {
            input_per_million: 3.0,
            output_per_million: 15.0,
            cached_input_per_million: Some(0.3),
        };
        let usage = AgentUsage {
            input_tokens: 1_000_000,
            output_tokens: 100_000,
            cached_input_tokens: 2_000_000,
            ..AgentUsage::default()
        };
        assert!((prices.cost(&usage) - (3.0 + 1.5 + 0.6)).abs() < 1e-9);
        let uncached = TokenPrices {
            cached_input_per_million: None,
            ..prices
        };
        assert!((uncached.cost(&usage) - (3.0 + 1.5 + 6.0)).abs() < 1e-9);
    }

    #[test]
    fn a_profile_price_wins() {
        let mine = PriceSettings {
            input_per_million: 9.0,
            output_per_million: 9.0,
            cached_input_per_million: None,
        };
        assert_eq!(
            prices_for(Some("gpt-5"), Some(mine)).map(|prices| prices.input_per_million),
            Some(9.0)
        );
    }
}
