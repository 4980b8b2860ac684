//! The state machines of missions, milestones, features and attempts, as explicit
//! transition tables.
//!
//! Invariant: a state changes only through [`StateMachine::check`]; a transition not in
//! its table is an error, never a silent no-op. Terminal states have no way out.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A transition that the table does not allow.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("illegal {machine} transition from {from} to {to}")]
pub struct IllegalTransition {
    pub machine: &'static str,
    pub from: String,
    pub to: String,
}

/// A state stored as text in the ledger that names no state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {machine} state {text:?}")]
pub struct UnknownState {
    pub machine: &'static str,
    pub text: String,
}

pub trait StateMachine: Copy + Eq + fmt::Debug + fmt::Display + FromStr + 'static {
    /// The machine's name, as errors and events say it.
    const MACHINE: &'static str;
    /// Every state, for tests and documentation.
    const ALL: &'static [Self];
    /// Every allowed transition.
    const TRANSITIONS: &'static [(Self, Self)];

    fn is_terminal(self) -> bool {
        !Self::TRANSITIONS.iter().any(|(from, _)| *from == self)
    }

    fn can_become(self, to: Self) -> bool {
        Self::TRANSITIONS.contains(&(self, to))
    }

    fn check(self, to: Self) -> Result<(), IllegalTransition> {
        if self.can_become(to) {
            Ok(())
        } else {
            Err(IllegalTransition {
                machine: Self::MACHINE,
                from: self.to_string(),
                to: to.to_string(),
            })
        }
    }
}

macro_rules! state_enum {
    (
        $(#[$doc:meta])*
        $name:ident, $machine:literal {
            $($(#[$variant_doc:meta])* $variant:ident => $text:literal),+ $(,)?
        }
        transitions { $($from:ident -> [$($to:ident),*]),* $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$variant_doc])* $variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownState;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownState { machine: $machine, text: text.to_owned() }),
                }
            }
        }

        impl StateMachine for $name {
            const MACHINE: &'static str = $machine;
            const ALL: &'static [Self] = &[$($name::$variant),+];
            const TRANSITIONS: &'static [(Self, Self)] = &[
                $($(($name::$from, $name::$to),)*)*
            ];
        }
    };
}

state_enum! {
    /// A mission, from its draft to its end.
    MissionState, "mission" {
        /// Stored, waiting for a person to approve its plan.
        Draft => "draft",
        /// Approved and stored, not yet launched.
        Approved => "approved",
        /// Work is being dispatched.
        Running => "running",
        /// A person paused it: nothing new is dispatched.
        Paused => "paused",
        /// It waits for a person (a feature ran out of attempts, a milestone out of fix rounds).
        Blocked => "blocked",
        Completed => "completed",
        Failed => "failed",
        Cancelled => "cancelled",
    }
    transitions {
        Draft -> [Approved, Cancelled],
        Approved -> [Running, Cancelled],
        Running -> [Paused, Blocked, Completed, Failed, Cancelled],
        Paused -> [Running, Cancelled],
        Blocked -> [Running, Failed, Cancelled],
    }
}

state_enum! {
    /// A milestone: its features are worked, then it is validated, fixed and validated again.
    MilestoneState, "milestone" {
        /// Earlier milestones are not passed yet.
        Pending => "pending",
        /// Its features are being worked.
        Active => "active",
        /// Validators are proving it.
        Validating => "validating",
        /// Validation found problems; fix features are being worked.
        Fixing => "fixing",
        Passed => "passed",
        /// Out of fix rounds, or a feature failed: a person decides.
        Blocked => "blocked",
        Cancelled => "cancelled",
    }
    transitions {
        Pending -> [Active, Cancelled],
        Active -> [Validating, Passed, Blocked, Cancelled],
        Validating -> [Passed, Fixing, Blocked, Active, Cancelled],
        Fixing -> [Validating, Passed, Blocked, Cancelled],
        Blocked -> [Active, Fixing, Validating, Passed, Cancelled],
    }
}

state_enum! {
    /// A feature: waits for its preconditions, is attempted, and is accepted with evidence.
    FeatureState, "feature" {
        /// Not dispatched; it runs once its preconditions and milestone allow.
        Pending => "pending",
        /// An attempt was dispatched and waits for a worker.
        Dispatched => "dispatched",
        /// A worker is running its attempt.
        Running => "running",
        /// Accepted: a pushed commit on the integration branch and a handoff.
        Done => "done",
        /// Out of attempts: a person decides.
        Failed => "failed",
        /// A person skipped it, with a reason.
        Skipped => "skipped",
        Cancelled => "cancelled",
    }
    transitions {
        Pending -> [Dispatched, Skipped, Cancelled],
        Dispatched -> [Running, Pending, Failed, Skipped, Cancelled],
        Running -> [Done, Pending, Failed, Skipped, Cancelled],
        Failed -> [Pending, Skipped, Cancelled],
    }
}

state_enum! {
    /// One try at a feature or a validation, fenced by its lease epoch.
    AttemptState, "attempt" {
        /// Sent to the bus; no worker has it yet.
        Dispatched => "dispatched",
        /// A worker holds its lease.
        Running => "running",
        Succeeded => "succeeded",
        Failed => "failed",
        /// Its lease ran out, or its worker handed it back.
        Abandoned => "abandoned",
        /// A person stopped it, or the mission ended.
        Cancelled => "cancelled",
    }
    transitions {
        Dispatched -> [Running, Abandoned, Cancelled],
        Running -> [Succeeded, Failed, Abandoned, Cancelled],
    }
}

impl FeatureState {
    /// The feature's work is settled: nothing later waits on it any more.
    pub fn is_settled(self) -> bool {
        matches!(self, FeatureState::Done | FeatureState::Skipped)
    }

    /// An attempt of the feature is out with a worker or the bus.
    pub fn is_in_flight(self) -> bool {
        matches!(self, FeatureState::Dispatched | FeatureState::Running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_table_is_sound<S: StateMachine>() {
        for (from, to) in S::TRANSITIONS {
            assert_ne!(from, to, "{} has a self transition at {from}", S::MACHINE);
            assert!(S::ALL.contains(from) && S::ALL.contains(to));
        }
        for state in S::ALL {
            let text = state.to_string();
            let parsed: Result<S, _> = text.parse();
            assert!(
                matches!(parsed, Ok(back) if back == *state),
                "{text} does not round-trip"
            );
        }
        let duplicates = S::TRANSITIONS
            .iter()
            .enumerate()
            .any(|(index, pair)| S::TRANSITIONS[index + 1..].contains(pair));
        assert!(!duplicates, "{} lists a transition twice", S::MACHINE);
    }

    #[test]
    fn tables_are_sound() {
        assert_table_is_sound::<MissionState>();
        assert_table_is_sound::<MilestoneState>();
        assert_table_is_sound::<FeatureState>();
        assert_table_is_sound::<AttemptState>();
    }

    #[test]
    fn terminal_states_have_no_way_out() {
        for state in [
            MissionState::Completed,
            MissionState::Failed,
            MissionState::Cancelled,
        ] {
            assert!(state.is_terminal());
            for to in MissionState::ALL {
                assert!(state.check(*to).is_err());
            }
        }
        assert!(FeatureState::Done.is_terminal());
        assert!(AttemptState::Succeeded.is_terminal());
        assert!(
            !FeatureState::Failed.is_terminal(),
            "a person may retry a failed feature"
        );
    }

    #[test]
    fn an_illegal_transition_names_both_states() {
        let error = FeatureState::Done.check(FeatureState::Running).unwrap_err();
        assert_eq!(
            error.to_string(),
            "illegal feature transition from done to running"
        );
    }

    #[test]
    fn a_draft_is_approved_before_it_runs() {
        assert_eq!(MissionState::Draft.check(MissionState::Approved), Ok(()));
        assert_eq!(MissionState::Draft.check(MissionState::Cancelled), Ok(()));
        assert!(!MissionState::Draft.is_terminal());
        let error = MissionState::Draft
            .check(MissionState::Running)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "illegal mission transition from draft to running"
        );
        for from in MissionState::ALL {
            assert!(
                !from.can_become(MissionState::Draft),
                "nothing goes back to draft, not even {from}"
            );
        }
        assert_eq!("draft".parse::<MissionState>(), Ok(MissionState::Draft));
    }

    #[test]
    fn unknown_text_is_refused() {
        let error = "finished".parse::<AttemptState>().unwrap_err();
        assert_eq!(error.machine, "attempt");
    }

    #[test]
    fn every_non_terminal_state_can_be_cancelled() {
        fn check<S: StateMachine>(cancelled: S) {
            for state in S::ALL {
                if !state.is_terminal() {
                    assert!(
                        state.can_become(cancelled),
                        "{} {state} cannot be cancelled",
                        S::MACHINE
                    );
                }
            }
        }
        check(MissionState::Cancelled);
        check(MilestoneState::Cancelled);
        check(FeatureState::Cancelled);
        check(AttemptState::Cancelled);
    }
}
