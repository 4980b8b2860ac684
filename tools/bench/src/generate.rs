//! The synthetic mission generator: N features in M milestones, a random precondition
//! DAG of a given density, optional `touches` overlaps, and a duration per feature, all
//! from one seed.
//!
//! Generation is linear in the features: each feature picks its preconditions among a
//! window of the features just before it, which belong to its milestone or an earlier one
//! (milestones are contiguous blocks in plan order), so the DAG is acyclic and never waits
//! on a later milestone by construction.

use std::fmt::Write as _;

use crate::rng::{Durations, Rng};

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub features: usize,
    pub milestones: usize,
    /// The mean number of preconditions per feature.
    pub density: f64,
    /// How far back (in plan order) a feature's preconditions may be.
    pub window: usize,
    /// The share of features that also touch one of a few shared paths, so that two
    /// features touching the same one never run together.
    pub overlap: f64,
    /// How many shared paths overlapping features choose from.
    pub shared_paths: usize,
    pub durations: Durations,
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticFeature {
    pub id: String,
    /// The milestone's position.
    pub milestone: usize,
    /// Positions of the preconditions, all earlier than this feature, ascending.
    pub preconditions: Vec<usize>,
    pub duration_ms: u64,
    /// The shared path it also touches, if any.
    pub shared: Option<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticMission {
    pub name: String,
    pub milestones: usize,
    pub features: Vec<SyntheticFeature>,
}

/// How the mission file runs: the settings the bench gives every generated mission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissionSettings {
    pub max_parallel_workers: usize,
    /// Write each feature's duration as its `estimate_minutes`, so the scheduler ranks
    /// critical paths by the same sizes the agents will take.
    pub estimates: bool,
}

pub fn feature_id(position: usize) -> String {
    format!("f{position:05}")
}

pub fn milestone_id(position: usize) -> String {
    format!("m{position:03}")
}

/// The file each feature writes, covered by its `touches`.
pub fn feature_path(id: &str) -> String {
    format!("f/{id}.txt")
}

impl SyntheticMission {
    pub fn generate(name: &str, shape: &Shape) -> Self {
        assert!(shape.features > 0, "a mission has at least one feature");
        let milestones = shape.milestones.clamp(1, shape.features);
        let mut rng = Rng::new(shape.seed);
        let mut features = Vec::with_capacity(shape.features);
        for position in 0..shape.features {
            // Contiguous, balanced blocks: every milestone gets at least one feature.
            let milestone = position * milestones / shape.features;
            let window_start = position.saturating_sub(shape.window);
            let candidates = position - window_start;
            let mut wanted = shape.density.max(0.0).floor() as usize;
            if rng.unit() < shape.density.max(0.0).fract() {
                wanted += 1;
            }
            let mut preconditions: Vec<usize> = Vec::with_capacity(wanted.min(candidates));
            while preconditions.len() < wanted.min(candidates) {
                let candidate = window_start + rng.below(candidates);
                if !preconditions.contains(&candidate) {
                    preconditions.push(candidate);
                }
            }
            preconditions.sort_unstable();
            let shared = (shape.shared_paths > 0 && rng.unit() < shape.overlap)
                .then(|| rng.below(shape.shared_paths));
            features.push(SyntheticFeature {
                id: feature_id(position),
                milestone,
                preconditions,
                duration_ms: shape.durations.sample(&mut rng),
                shared,
            });
        }
        Self {
            name: name.to_owned(),
            milestones,
            features,
        }
    }

    pub fn total_work_ms(&self) -> u64 {
        self.features
            .iter()
            .map(|feature| feature.duration_ms)
            .sum()
    }

    pub fn edges(&self) -> usize {
        self.features
            .iter()
            .map(|feature| feature.preconditions.len())
            .sum()
    }

    /// The same DAG with other durations (the no-op run of a shape measured with sleeps).
    pub fn with_durations(&self, durations: impl Fn(&SyntheticFeature) -> u64) -> Self {
        let mut copy = self.clone();
        for feature in &mut copy.features {
            feature.duration_ms = durations(feature);
        }
        copy
    }

    /// The mission file: one repository, no validation, and for each feature a `write`
    /// of its own file and a `sleep_ms` of its duration, for the scripted agent.
    pub fn to_toml(&self, settings: MissionSettings) -> String {
        let mut text = String::with_capacity(200 + self.features.len() * 260);
        let _ = writeln!(
            text,
            "# Generated by sortie-bench: {} features in {} milestones.\n",
            self.features.len(),
            self.milestones
        );
        let _ = writeln!(
            text,
            "[mission]\nname = \"{}\"\ngoal = \"Measure orchestration with a synthetic mission\"\n",
            self.name
        );
        // The URL is replaced at submission by a fresh repository of the run.
        text.push_str("[[repositories]]\nname = \"bench\"\nurl = \"bench.git\"\n\n");
        let _ = writeln!(
            text,
            "[settings]\nmax_parallel_workers = {}\nvalidation = false\n",
            settings.max_parallel_workers.max(1)
        );
        for milestone in 0..self.milestones {
            let _ = writeln!(
                text,
                "[[milestones]]\nid = \"{id}\"\ntitle = \"Milestone {id}\"\n",
                id = milestone_id(milestone)
            );
        }
        for feature in &self.features {
            write_feature(&mut text, feature, settings.estimates);
        }
        // One assertion that every feature fulfills, so the file has no warnings; the
        // mission does not validate, so it is never checked.
        text.push_str(
            "[[assertions]]\nid = \"VAL-BENCH-001\"\nstatement = \"Every feature wrote its file\"\n\
             check = { kind = \"command\", run = \"true\" }\n",
        );
        text
    }
}

fn write_feature(text: &mut String, feature: &SyntheticFeature, estimates: bool) {
    let id = &feature.id;
    let path = feature_path(id);
    let _ = write!(
        text,
        "[[features]]\nid = \"{id}\"\ntitle = \"Synthetic feature {id}\"\nmilestone = \"{}\"\n",
        milestone_id(feature.milestone)
    );
    if !feature.preconditions.is_empty() {
        let names: Vec<String> = feature
            .preconditions
            .iter()
            .map(|&position| format!("\"{}\"", feature_id(position)))
            .collect();
        let _ = writeln!(text, "preconditions = [{}]", names.join(", "));
    }
    match feature.shared {
        Some(shared) => {
            let _ = writeln!(text, "touches = [\"{path}\", \"shared/{shared}.txt\"]");
        }
        None => {
            let _ = writeln!(text, "touches = [\"{path}\"]");
        }
    }
    text.push_str("fulfills = [\"VAL-BENCH-001\"]\n");
    if estimates {
        // One estimated minute per millisecond: only the ratios matter to the scheduler.
        let estimate = feature.duration_ms.clamp(1, u64::from(u32::MAX));
        let _ = writeln!(text, "estimate_minutes = {estimate}");
    }
    let _ = write!(
        text,
        "steps = [{{ write = \"{path}\", content = \"{id}\\n\" }}"
    );
    if feature.duration_ms > 0 {
        let _ = write!(text, ", {{ sleep_ms = {} }}", feature.duration_ms);
    }
    text.push_str("]\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use sortie_model::mission_file;

    fn shape(features: usize, milestones: usize) -> Shape {
        Shape {
            features,
            milestones,
            density: 1.5,
            window: 8,
            overlap: 0.2,
            shared_paths: 3,
            durations: Durations::Uniform { min: 10, max: 90 },
            seed: 42,
        }
    }

    fn settings() -> MissionSettings {
        MissionSettings {
            max_parallel_workers: 4,
            estimates: true,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_mission() {
        let first = SyntheticMission::generate("bench", &shape(300, 6));
        let second = SyntheticMission::generate("bench", &shape(300, 6));
        assert_eq!(first, second);
        assert_eq!(first.to_toml(settings()), second.to_toml(settings()));
        let other = SyntheticMission::generate(
            "bench",
            &Shape {
                seed: 43,
                ..shape(300, 6)
            },
        );
        assert_ne!(first, other);
    }

    #[test]
    fn the_shape_is_what_was_asked() {
        let mission = SyntheticMission::generate("bench", &shape(1_000, 10));
        assert_eq!(mission.features.len(), 1_000);
        for milestone in 0..10 {
            let count = mission
                .features
                .iter()
                .filter(|feature| feature.milestone == milestone)
                .count();
            assert_eq!(count, 100, "milestone {milestone}");
        }
        let mut previous_milestone = 0;
        for (position, feature) in mission.features.iter().enumerate() {
            assert!(
                feature.milestone >= previous_milestone,
                "milestones in order"
            );
            previous_milestone = feature.milestone;
            for &precondition in &feature.preconditions {
                assert!(precondition < position, "preconditions come earlier");
                assert!(position - precondition <= 8, "within the window");
                assert!(mission.features[precondition].milestone <= feature.milestone);
            }
            assert!((10..=90).contains(&feature.duration_ms));
        }
        let mean = mission.edges() as f64 / 1_000.0;
        assert!((1.35..=1.65).contains(&mean), "mean preconditions {mean}");
        let overlapping = mission
            .features
            .iter()
            .filter(|feature| feature.shared.is_some())
            .count();
        assert!((150..=250).contains(&overlapping), "{overlapping} overlap");
    }

    #[test]
    fn the_mission_file_parses_into_the_same_plan() {
        let mission = SyntheticMission::generate("bench-check", &shape(120, 4));
        let parsed = mission_file::parse("bench.toml", &mission.to_toml(settings()))
            .unwrap_or_else(|diagnostics| panic!("{diagnostics:?}"));
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let plan = parsed.plan;
        assert_eq!(plan.features.len(), 120);
        assert_eq!(plan.milestones.len(), 4);
        assert!(!plan.settings.validation);
        assert_eq!(plan.settings.max_parallel_workers, 4);
        for (feature, synthetic) in plan.features.iter().zip(&mission.features) {
            assert_eq!(feature.id.as_str(), synthetic.id);
            let preconditions: Vec<String> = synthetic
                .preconditions
                .iter()
                .map(|&position| feature_id(position))
                .collect();
            let parsed: Vec<&str> = feature.preconditions.iter().map(|id| id.as_str()).collect();
            assert_eq!(parsed, preconditions);
            assert_eq!(
                u64::from(feature.estimate_minutes.unwrap()),
                synthetic.duration_ms
            );
            assert_eq!(feature.steps.len(), 2, "a write and a sleep");
        }
    }

    #[test]
    fn a_no_op_feature_only_writes_its_file() {
        let mission = SyntheticMission::generate(
            "bench-noop",
            &Shape {
                durations: Durations::Zero,
                ..shape(5, 1)
            },
        );
        let plan = mission_file::parse("bench.toml", &mission.to_toml(settings()))
            .unwrap()
            .plan;
        assert!(plan.features.iter().all(|feature| feature.steps.len() == 1));
    }

    #[test]
    fn more_milestones_than_features_are_clamped() {
        let mission = SyntheticMission::generate("bench", &shape(3, 10));
        assert_eq!(mission.milestones, 3);
        let milestones: Vec<usize> = mission.features.iter().map(|f| f.milestone).collect();
        assert_eq!(milestones, vec![0, 1, 2]);
    }
}
