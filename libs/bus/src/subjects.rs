//! Every NATS subject, stream and consumer name Sortie uses. No other file names one.
//!
//! Every name lives under a prefix (`sortie` by default; each test takes a unique one, so
//! tests never see each other's messages). Subjects use the prefix as written; stream
//! names use it in upper case.
//!
//! | name | kind | holds / reads | retention | who reads |
//! | --- | --- | --- | --- | --- |
//! | `{PREFIX}_TASKS` | stream | `{prefix}.task.feature.>`, `{prefix}.task.validation.>` | work queue | workers, validators |
//! | `{PREFIX}_REPORTS` | stream | `{prefix}.report.>` | work queue | the orchestrator |
//! | `{PREFIX}_EVENTS` | stream | `{prefix}.event.>` | limits, with a max age | watchers |
//! | `{prefix}.task.feature.{mission}` | subject | [`Topic::FeatureTask`] | | |
//! | `{prefix}.task.validation.{mission}` | subject | [`Topic::ValidationTask`] | | |
//! | `{prefix}.report.{mission}` | subject | [`Topic::AttemptReport`] | | |
//! | `{prefix}.event.{mission}` | subject | [`Topic::MissionEvent`] | | |
//! | `feature_workers` | durable pull consumer on `{PREFIX}_TASKS` | `{prefix}.task.feature.>` | explicit ack | workers |
//! | `validators` | durable pull consumer on `{PREFIX}_TASKS` | `{prefix}.task.validation.>` | explicit ack | validators |
//! | `orchestrator` | durable pull consumer on `{PREFIX}_REPORTS` | `{prefix}.report.>` | explicit ack | orchestrator replicas |
//! | `{prefix}.planner.questions` | request/reply subject (core NATS, no stream) | [`PlannerOperation::Questions`] | | the `planners` queue group |
//! | `{prefix}.planner.propose` | request/reply subject (core NATS, no stream) | [`PlannerOperation::Propose`] | | the `planners` queue group |
//!
//! `{mission}` is the mission's id, or `_` for a message that belongs to no mission. The
//! mission token lets a watcher follow one mission, and lets the reconciler purge one
//! mission's tasks. Watchers read `{PREFIX}_EVENTS` through ephemeral ordered consumers.
//!
//! Planner requests are not stored: no stream holds `{prefix}.planner.>`, a request
//! without a planner fails at once, and each request goes to one member of the queue group.
//!
//! The two consumers on `{PREFIX}_TASKS` filter subjects that do not overlap, as a
//! work-queue stream requires.

use sortie_model::MissionId;
use sortie_model::messages::Topic;
use sortie_model::planner::PlannerOperation;

use crate::error::BusError;
use crate::message::{Route, WorkQueue};

/// The prefix services use unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "sortie";

/// The token that stands for "no mission" in a subject.
const NO_MISSION: &str = "_";

const MAX_PREFIX_LEN: usize = 32;

/// A JetStream stream Sortie keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// Feature and validation tasks (a work queue).
    Tasks,
    /// Attempt reports for the orchestrator (a work queue).
    Reports,
    /// Mission events for watchers (kept for a while, read by many).
    Events,
}

impl StreamKind {
    pub const ALL: [StreamKind; 3] = [StreamKind::Tasks, StreamKind::Reports, StreamKind::Events];

    fn suffix(self) -> &'static str {
        match self {
            StreamKind::Tasks => "TASKS",
            StreamKind::Reports => "REPORTS",
            StreamKind::Events => "EVENTS",
        }
    }

    /// The stream a topic's messages are stored in.
    pub fn of_topic(topic: Topic) -> StreamKind {
        match topic {
            Topic::FeatureTask | Topic::ValidationTask => StreamKind::Tasks,
            Topic::AttemptReport => StreamKind::Reports,
            Topic::MissionEvent => StreamKind::Events,
        }
    }
}

/// The names under one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    /// Names under `prefix`: 1 to 32 characters of lower-case ASCII letters, digits, `_`
    /// and `-`, starting with a letter.
    pub fn new(prefix: &str) -> Result<Self, BusError> {
        let invalid = |reason: &'static str| BusError::InvalidPrefix {
            prefix: prefix.to_owned(),
            reason,
        };
        if prefix.is_empty() || prefix.len() > MAX_PREFIX_LEN {
            return Err(invalid("it must be 1 to 32 characters long"));
        }
        if !prefix.starts_with(|character: char| character.is_ascii_lowercase()) {
            return Err(invalid("it must start with a lower-case letter"));
        }
        let allowed = |character: char| {
            character.is_ascii_lowercase()
                || character.is_ascii_digit()
                || character == '_'
                || character == '-'
        };
        if !prefix.chars().all(allowed) {
            return Err(invalid(
                "it may hold only lower-case letters, digits, '_' and '-'",
            ));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The name of one of the streams, `{PREFIX}_TASKS` for example.
    pub fn stream(&self, stream: StreamKind) -> String {
        format!("{}_{}", self.prefix.to_ascii_uppercase(), stream.suffix())
    }

    /// The subjects a stream holds.
    pub fn stream_subjects(&self, stream: StreamKind) -> Vec<String> {
        let prefix = &self.prefix;
        match stream {
            StreamKind::Tasks => vec![
                format!("{prefix}.task.feature.>"),
                format!("{prefix}.task.validation.>"),
            ],
            StreamKind::Reports => vec![format!("{prefix}.report.>")],
            StreamKind::Events => vec![format!("{prefix}.event.>")],
        }
    }

    /// The subject a message with this route is published on.
    pub fn subject(&self, route: &Route) -> String {
        let mission = route
            .mission
            .map_or_else(|| NO_MISSION.to_owned(), |mission| mission.to_string());
        format!("{}.{mission}", self.topic_base(route.topic))
    }

    fn topic_base(&self, topic: Topic) -> String {
        let prefix = &self.prefix;
        match topic {
            Topic::FeatureTask => format!("{prefix}.task.feature"),
            Topic::ValidationTask => format!("{prefix}.task.validation"),
            Topic::AttemptReport => format!("{prefix}.report"),
            Topic::MissionEvent => format!("{prefix}.event"),
        }
    }

    /// The stream a work queue's consumer reads.
    pub fn queue_stream(&self, queue: WorkQueue) -> String {
        self.stream(StreamKind::of_topic(queue.topic()))
    }

    /// The durable consumer of a work queue. Durable names are scoped to their stream.
    pub fn durable(queue: WorkQueue) -> &'static str {
        match queue {
            WorkQueue::FeatureTasks => "feature_workers",
            WorkQueue::ValidationTasks => "validators",
            WorkQueue::AttemptReports => "orchestrator",
        }
    }

    /// The subjects a work queue's consumer reads.
    pub fn queue_filter(&self, queue: WorkQueue) -> String {
        format!("{}.>", self.topic_base(queue.topic()))
    }

    /// The subjects a watcher reads: one mission's events, or every mission's.
    pub fn events_filter(&self, mission: Option<MissionId>) -> String {
        let base = self.topic_base(Topic::MissionEvent);
        match mission {
            Some(mission) => format!("{base}.{mission}"),
            None => format!("{base}.>"),
        }
    }

    /// The subject a planner operation is requested on.
    pub fn planner(&self, operation: PlannerOperation) -> String {
        format!("{}.planner.{}", self.prefix, operation.as_str())
    }

    /// The queue group planner replicas share requests in.
    pub fn planner_queue_group() -> &'static str {
        "planners"
    }

    /// The mission a subject under this prefix names, if any.
    pub fn mission_of(&self, subject: &str) -> Option<MissionId> {
        let (_, last_token) = subject.rsplit_once('.')?;
        if !subject.starts_with(&format!("{}.", self.prefix)) {
            return None;
        }
        last_token.parse().ok()
    }
}

impl Default for Subjects {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_table() {
        let subjects = Subjects::new("t_1").unwrap();
        let mission = MissionId::generate();
        assert_eq!(subjects.stream(StreamKind::Tasks), "T_1_TASKS");
        assert_eq!(subjects.stream(StreamKind::Reports), "T_1_REPORTS");
        assert_eq!(subjects.stream(StreamKind::Events), "T_1_EVENTS");
        assert_eq!(
            subjects.subject(&Route::new(Topic::FeatureTask, Some(mission))),
            format!("t_1.task.feature.{mission}")
        );
        assert_eq!(
            subjects.subject(&Route::from(Topic::AttemptReport)),
            "t_1.report._"
        );
        assert_eq!(
            subjects.events_filter(Some(mission)),
            format!("t_1.event.{mission}")
        );
        assert_eq!(subjects.events_filter(None), "t_1.event.>");
    }

    #[test]
    fn every_topic_lands_in_its_stream_and_queue_filter() {
        let subjects = Subjects::default();
        for topic in Topic::ALL {
            let subject = subjects.subject(&Route::from(topic));
            let stream = StreamKind::of_topic(topic);
            let covered = subjects
                .stream_subjects(stream)
                .iter()
                .any(|filter| subject.starts_with(filter.trim_end_matches('>')));
            assert!(covered, "{subject} is not in {stream:?}");
        }
        for queue in WorkQueue::ALL {
            let subject = subjects.subject(&Route::from(queue.topic()));
            let filter = subjects.queue_filter(queue);
            assert!(subject.starts_with(filter.trim_end_matches('>')));
        }
    }

    #[test]
    fn the_two_task_filters_do_not_overlap() {
        let subjects = Subjects::default();
        let feature = subjects.queue_filter(WorkQueue::FeatureTasks);
        let validation = subjects.queue_filter(WorkQueue::ValidationTasks);
        assert!(!feature.starts_with(validation.trim_end_matches('>')));
        assert!(!validation.starts_with(feature.trim_end_matches('>')));
    }

    #[test]
    fn planner_subjects_are_in_no_stream() {
        let subjects = Subjects::new("t_1").unwrap();
        assert_eq!(
            subjects.planner(PlannerOperation::Propose),
            "t_1.planner.propose"
        );
        for operation in PlannerOperation::ALL {
            let subject = subjects.planner(operation);
            for stream in StreamKind::ALL {
                let stored = subjects
                    .stream_subjects(stream)
                    .iter()
                    .any(|filter| subject.starts_with(filter.trim_end_matches('>')));
                assert!(!stored, "{subject} is stored in {stream:?}");
            }
        }
    }

    #[test]
    fn the_mission_is_read_back_from_a_subject() {
        let subjects = Subjects::new("p").unwrap();
        let mission = MissionId::generate();
        let subject = subjects.subject(&Route::new(Topic::MissionEvent, Some(mission)));
        assert_eq!(subjects.mission_of(&subject), Some(mission));
        assert_eq!(subjects.mission_of("p.report._"), None);
        assert_eq!(subjects.mission_of(&format!("q.report.{mission}")), None);
    }

    #[test]
    fn a_bad_prefix_is_refused_by_name() {
        for bad in ["", "Sortie", "1abc", "a.b", "a b", "a>", &"a".repeat(33)] {
            let error = Subjects::new(bad).unwrap_err();
            assert!(
                error.to_string().starts_with("invalid bus prefix"),
                "{bad:?}: {error}"
            );
        }
        assert!(Subjects::new("t_0a1b-2").is_ok());
    }
}
