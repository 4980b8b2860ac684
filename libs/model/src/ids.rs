//! Identifiers. Plan-level ids (features, milestones, assertions, repositories) are the
//! names people write in the mission file; run-level ids (missions, attempts) are UUIDs
//! that the ledger assigns.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }
    };
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(formatter)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(text).map(Self)
            }
        }
    };
}

text_id!(
    /// A feature's id, unique within its plan (for example `F-API-LIST`).
    FeatureId
);
text_id!(
    /// A milestone's id, unique within its plan (for example `m1-core`).
    MilestoneId
);
text_id!(
    /// An assertion's id in the validation contract (`VAL-AREA-NNN`).
    AssertionId
);
text_id!(
    /// The name a plan gives one of its repositories.
    RepositoryName
);

uuid_id!(
    /// A mission, assigned by the ledger when the mission is submitted.
    MissionId
);
uuid_id!(
    /// One try at a feature or a validation.
    AttemptId
);

/// The token a worker or validator presents with every heartbeat, report and push for an
/// attempt: the attempt and its lease epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AttemptFence {
    pub attempt: AttemptId,
    pub epoch: i64,
}
