//! The conformance suite every [`Ledger`] implementation must pass, written once.
//!
//! An implementation's tests call [`ledger_conformance_suite!`](crate::ledger_conformance_suite)
//! with an async function that returns a fresh, migrated ledger and whatever must live as
//! long as the test (a test database, a temporary directory).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use sortie_model::messages::Topic;
use sortie_model::plan::{
    Assertion, Check, Feature, Milestone, MissionHeader, MissionSettings, Repository, ServicesBlock,
};
use sortie_model::records::{Handoff, Severity, Usage};
use sortie_model::state::{AttemptState, FeatureState, MilestoneState, MissionState};
use sortie_model::{AttemptId, FeatureId, MilestoneId, MissionId, Plan};

use crate::outbox::{OutboxRow, OutboxSink, OutboxSinkError, OutgoingMessage};
use crate::types::*;
use crate::{Ledger, LedgerError};

/// Generate one `#[tokio::test]` per conformance check. `$fresh` is an async function
/// returning `(Arc<dyn Ledger>, guard)`; the guard is dropped when the test ends.
#[macro_export]
macro_rules! ledger_conformance_suite {
    ($fresh:path) => {
        $crate::ledger_conformance_suite!(@checks $fresh;
            create_and_read_back,
            unknown_mission_is_not_found,
            a_change_writes_state_event_and_outbox_together,
            an_illegal_transition_changes_nothing,
            a_failed_transaction_commits_nothing,
            the_inbox_applies_a_message_once,
            attempts_get_increasing_epochs_and_stale_ones_are_refused,
            one_live_attempt_per_target,
            an_expired_lease_refuses_reports_and_heartbeats,
            a_heartbeat_extends_the_lease,
            backoff_is_judged_by_the_ledger_clock,
            concurrent_changes_get_gapless_event_sequences,
            the_outbox_drains_in_order_and_once,
            a_failed_sink_leaves_rows_unsent,
            mission_leases_fence_replicas,
            an_expired_mission_lease_moves_to_another_replica,
            handoffs_and_findings_are_stored,
            a_missions_usage_sums_its_attempts_handoffs,
            a_plan_amendment_adds_work_and_keeps_history,
            a_draft_is_approved_once_for_its_current_plan_then_launched,
        );
    };
    (@checks $fresh:path; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (ledger, _guard) = $fresh().await;
                $crate::conformance::$check(ledger).await;
            }
        )+
    };
}

/// A small plan: two milestones, three features, two assertions.
pub fn sample_plan() -> Plan {
    let feature = |id: &str, milestone: &str, preconditions: &[&str], fulfills: &[&str]| Feature {
        id: FeatureId::new(id),
        title: format!("build {id}"),
        milestone: MilestoneId::new(milestone),
        repository: "app".into(),
        description: String::new(),
        skill: None,
        preconditions: preconditions.iter().map(|id| FeatureId::new(*id)).collect(),
        expected_behavior: vec![],
        verification: vec![],
        fulfills: fulfills.iter().map(|id| (*id).into()).collect(),
        touches: vec![format!("src/{id}/**")],
        estimate_minutes: None,
        steps: vec![],
        fix: None,
    };
    Plan {
        mission: MissionHeader {
            name: "conformance".to_owned(),
            goal: "prove the ledger".to_owned(),
        },
        repositories: vec![Repository {
            name: "app".into(),
            url: "/tmp/app".to_owned(),
            base_branch: "main".to_owned(),
            integration_branch: None,
        }],
        settings: MissionSettings::default(),
        milestones: vec![
            Milestone {
                id: "m1".into(),
                title: "first".to_owned(),
                description: String::new(),
            },
            Milestone {
                id: "m2".into(),
                title: "second".to_owned(),
                description: String::new(),
            },
        ],
        features: vec![
            feature("F-A", "m1", &[], &["VAL-APP-001"]),
            feature("F-B", "m1", &["F-A"], &[]),
            feature("F-C", "m2", &["F-B"], &["VAL-APP-002"]),
        ],
        assertions: vec![
            Assertion {
                id: "VAL-APP-001".into(),
                statement: "it builds".to_owned(),
                check: Check::Command {
                    run: "true".to_owned(),
                    expect_exit: 0,
                    expect_output: None,
                    timeout_seconds: None,
                },
            },
            Assertion {
                id: "VAL-APP-002".into(),
                statement: "it answers".to_owned(),
                check: Check::Command {
                    run: "true".to_owned(),
                    expect_exit: 0,
                    expect_output: None,
                    timeout_seconds: None,
                },
            },
        ],
        skills: vec![],
        services: ServicesBlock::default(),
        mcp_servers: Vec::new(),
        scripted_fixes: vec![],
    }
}

fn submission() -> MissionSubmission {
    MissionSubmission {
        tenant: "acme".to_owned(),
        team: "platform".to_owned(),
        submitted_by: "alice".to_owned(),
        approved_by: Some("alice".to_owned()),
        plan: sample_plan(),
        source: Some("# mission.toml".to_owned()),
    }
}

fn orchestrator() -> Actor {
    Actor::new("orchestrator:test")
}

fn message(msg_id: &str) -> OutgoingMessage {
    OutgoingMessage {
        topic: Topic::FeatureTask,
        msg_id: msg_id.to_owned(),
        payload: json!({ "id": msg_id }),
        headers: BTreeMap::from([("traceparent".to_owned(), format!("trace-{msg_id}"))]),
    }
}

fn feature_step(id: &str, to: FeatureState) -> Step {
    Step::Feature {
        id: FeatureId::new(id),
        to,
        reason: "conformance".to_owned(),
        not_before: None,
    }
}

fn mission_step(to: MissionState) -> Step {
    Step::Mission {
        to,
        reason: "conformance".to_owned(),
    }
}

async fn new_mission(ledger: &Arc<dyn Ledger>) -> MissionId {
    ledger
        .create_mission(submission())
        .await
        .expect("create mission")
}

async fn running_mission(ledger: &Arc<dyn Ledger>) -> MissionId {
    let mission = new_mission(ledger).await;
    ledger
        .apply(Change::new(mission, orchestrator()).step(mission_step(MissionState::Running)))
        .await
        .expect("launch");
    mission
}

async fn feature_state(ledger: &Arc<dyn Ledger>, mission: MissionId, id: &str) -> FeatureRecord {
    ledger
        .features(mission)
        .await
        .expect("features")
        .into_iter()
        .find(|feature| feature.id.as_str() == id)
        .expect("feature exists")
}

/// The epoch the next attempt at `target` must carry.
async fn next_epoch(ledger: &Arc<dyn Ledger>, mission: MissionId, target: &AttemptTarget) -> i64 {
    let attempts = ledger.attempts(mission).await.expect("attempts");
    attempts
        .iter()
        .filter(|attempt| &attempt.target == target)
        .map(|attempt| attempt.epoch)
        .max()
        .unwrap_or(0)
        + 1
}

async fn start_attempt(
    ledger: &Arc<dyn Ledger>,
    mission: MissionId,
    feature: &str,
    lease: Duration,
) -> AttemptRecord {
    let target = AttemptTarget::Feature {
        feature: FeatureId::new(feature),
    };
    let epoch = next_epoch(ledger, mission, &target).await;
    let applied = ledger
        .apply(
            Change::new(mission, orchestrator()).step(Step::StartAttempt {
                attempt: AttemptId::generate(),
                target,
                epoch,
                lease,
            }),
        )
        .await
        .expect("start attempt");
    applied
        .started
        .into_iter()
        .next()
        .expect("one attempt started")
}

async fn audit_actions(ledger: &Arc<dyn Ledger>, mission: MissionId) -> Vec<String> {
    ledger
        .audit_log(Some(mission), 0, 1000)
        .await
        .expect("audit log")
        .into_iter()
        .map(|entry| entry.action)
        .collect()
}

async fn event_count(ledger: &Arc<dyn Ledger>, mission: MissionId) -> usize {
    ledger
        .events(mission, 0, 10_000)
        .await
        .expect("events")
        .len()
}

/// A sink that keeps what it was handed, or fails.
#[derive(Default)]
struct RecordingSink {
    rows: Mutex<Vec<OutboxRow>>,
    fail: bool,
}

#[async_trait]
impl OutboxSink for RecordingSink {
    async fn publish(&self, rows: &[OutboxRow]) -> Result<(), OutboxSinkError> {
        if self.fail {
            return Err(OutboxSinkError {
                message: "the bus is down".to_owned(),
            });
        }
        self.rows.lock().expect("sink lock").extend_from_slice(rows);
        Ok(())
    }
}

pub async fn create_and_read_back(ledger: Arc<dyn Ledger>) {
    let before = ledger.now().await.expect("now");
    let mission = new_mission(&ledger).await;
    let record = ledger.mission(mission).await.expect("mission");
    assert_eq!(record.state, MissionState::Approved);
    assert_eq!(record.plan_version, 1);
    assert_eq!(
        (record.tenant.as_str(), record.team.as_str()),
        ("acme", "platform")
    );
    assert_eq!(record.submitted_by, "alice");
    assert_eq!(record.name, "conformance");
    assert!(record.created_at >= before);
    assert!(record.owner.is_none());
    let approval = record.approval.expect("a submitted plan is approved");
    assert_eq!((approval.by.as_str(), approval.plan_version), ("alice", 1));

    let plan = ledger.plan(mission, None).await.expect("plan");
    assert_eq!(plan.plan, sample_plan(), "the plan reads back unchanged");
    assert_eq!(plan.version, 1);
    assert_eq!(plan.approved_by.as_deref(), Some("alice"));
    assert_eq!(plan.source.as_deref(), Some("# mission.toml"));

    let milestones = ledger.milestones(mission).await.expect("milestones");
    let milestone_ids: Vec<_> = milestones
        .iter()
        .map(|m| (m.id.as_str(), m.ordinal, m.state))
        .collect();
    assert_eq!(
        milestone_ids,
        vec![
            ("m1", 0, MilestoneState::Pending),
            ("m2", 1, MilestoneState::Pending)
        ]
    );
    let features = ledger.features(mission).await.expect("features");
    let feature_ids: Vec<_> = features
        .iter()
        .map(|f| (f.id.as_str(), f.milestone.as_str()))
        .collect();
    assert_eq!(
        feature_ids,
        vec![("F-A", "m1"), ("F-B", "m1"), ("F-C", "m2")]
    );
    assert!(
        features
            .iter()
            .all(|f| f.state == FeatureState::Pending && f.attempts == 0)
    );

    let events = ledger.events(mission, 0, 100).await.expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].seq, events[0].kind.as_str()),
        (1, "mission_submitted")
    );
    assert_eq!(events[0].data["features"], 3);
    assert_eq!(
        audit_actions(&ledger, mission).await,
        vec!["submit_mission"]
    );
    let listed = ledger.missions(10).await.expect("missions");
    assert!(listed.iter().any(|listed| listed.id == mission));
}

pub async fn unknown_mission_is_not_found(ledger: Arc<dyn Ledger>) {
    let unknown = MissionId::generate();
    assert!(matches!(
        ledger.mission(unknown).await,
        Err(LedgerError::NotFound { .. })
    ));
    assert!(matches!(
        ledger.features(unknown).await,
        Err(LedgerError::NotFound { .. })
    ));
    assert!(matches!(
        ledger.events(unknown, 0, 10).await,
        Err(LedgerError::NotFound { .. })
    ));
    let change = Change::new(unknown, orchestrator()).step(mission_step(MissionState::Running));
    assert!(matches!(
        ledger.apply(change).await,
        Err(LedgerError::NotFound { .. })
    ));
    let mission = new_mission(&ledger).await;
    assert!(matches!(
        ledger.plan(mission, Some(7)).await,
        Err(LedgerError::NotFound { .. })
    ));
}

pub async fn a_change_writes_state_event_and_outbox_together(ledger: Arc<dyn Ledger>) {
    let mission = new_mission(&ledger).await;
    let backlog_before = ledger.outbox_backlog().await.expect("backlog");
    let applied = ledger
        .apply(
            Change::new(mission, orchestrator())
                .step(mission_step(MissionState::Running))
                .step(feature_step("F-A", FeatureState::Dispatched))
                .send(message(&format!("{mission}-launch")))
                .audit("launch", json!({ "by": "alice" })),
        )
        .await
        .expect("apply");
    assert!(!applied.duplicate);
    assert_eq!(applied.events, vec![2, 3]);
    assert_eq!(
        ledger.mission(mission).await.expect("mission").state,
        MissionState::Running
    );
    assert_eq!(
        feature_state(&ledger, mission, "F-A").await.state,
        FeatureState::Dispatched
    );
    let events = ledger.events(mission, 1, 100).await.expect("events");
    let kinds: Vec<_> = events.iter().map(|event| event.kind.as_str()).collect();
    assert_eq!(kinds, vec!["mission_state", "feature_state"]);
    assert_eq!(events[0].data["from"], "approved");
    assert_eq!(events[0].data["to"], "running");
    assert_eq!(events[1].data["feature"], "F-A");
    assert_eq!(events[1].actor, orchestrator());
    assert_eq!(
        ledger.outbox_backlog().await.expect("backlog"),
        backlog_before + 1
    );
    assert_eq!(
        audit_actions(&ledger, mission).await,
        vec!["submit_mission", "launch"]
    );
}

pub async fn an_illegal_transition_changes_nothing(ledger: Arc<dyn Ledger>) {
    let mission = new_mission(&ledger).await;
    let backlog_before = ledger.outbox_backlog().await.expect("backlog");
    let change = Change::new(mission, orchestrator())
        .step(mission_step(MissionState::Running))
        // pending -> done skips the attempt: the table refuses it.
        .step(feature_step("F-A", FeatureState::Done))
        .send(message(&format!("{mission}-illegal")));
    let error = ledger.apply(change).await.expect_err("illegal transition");
    assert!(
        matches!(&error, LedgerError::IllegalTransition(illegal) if illegal.machine == "feature"),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "illegal feature transition from pending to done"
    );
    assert_eq!(
        ledger.mission(mission).await.expect("mission").state,
        MissionState::Approved
    );
    assert_eq!(
        feature_state(&ledger, mission, "F-A").await.state,
        FeatureState::Pending
    );
    assert_eq!(event_count(&ledger, mission).await, 1);
    assert_eq!(
        ledger.outbox_backlog().await.expect("backlog"),
        backlog_before
    );
}

pub async fn a_failed_transaction_commits_nothing(ledger: Arc<dyn Ledger>) {
    let mission = new_mission(&ledger).await;
    let msg_id = format!("{mission}-once");
    ledger
        .apply(
            Change::new(mission, orchestrator())
                .step(mission_step(MissionState::Running))
                .send(message(&msg_id)),
        )
        .await
        .expect("first change");
    let backlog_before = ledger.outbox_backlog().await.expect("backlog");
    let events_before = event_count(&ledger, mission).await;
    // Every step is legal; the outbox row's dedupe id is taken, so the transaction fails
    // at its very end, after the state and the event were written inside it.
    let change = Change::new(mission, orchestrator())
        .step(feature_step("F-A", FeatureState::Dispatched))
        .step(Step::Note {
            kind: "note".to_owned(),
            data: json!({}),
        })
        .send(message(&msg_id))
        .audit("never", json!({}));
    let error = ledger.apply(change).await.expect_err("duplicate dedupe id");
    assert!(matches!(error, LedgerError::Conflict(_)), "{error}");
    assert_eq!(
        feature_state(&ledger, mission, "F-A").await.state,
        FeatureState::Pending
    );
    assert_eq!(event_count(&ledger, mission).await, events_before);
    assert_eq!(
        ledger.outbox_backlog().await.expect("backlog"),
        backlog_before
    );
    assert!(
        !audit_actions(&ledger, mission)
            .await
            .contains(&"never".to_owned())
    );
    // The mission's event sequence did not move either: the next event follows on.
    let applied = ledger
        .apply(
            Change::new(mission, orchestrator())
                .step(feature_step("F-A", FeatureState::Dispatched)),
        )
        .await
        .expect("apply after failure");
    assert_eq!(
        applied.events,
        vec![i64::try_from(events_before).expect("count") + 1]
    );
}

pub async fn the_inbox_applies_a_message_once(ledger: Arc<dyn Ledger>) {
    let mission = new_mission(&ledger).await;
    let change = Change::new(mission, orchestrator())
        .applying(format!("{mission}-report-1"))
        .step(mission_step(MissionState::Running));
    let first = ledger.apply(change.clone()).await.expect("first delivery");
    assert!(!first.duplicate);
    let second = ledger.apply(change).await.expect("second delivery");
    assert!(second.duplicate);
    assert!(second.events.is_empty());
    assert_eq!(event_count(&ledger, mission).await, 2);
}

pub async fn attempts_get_increasing_epochs_and_stale_ones_are_refused(ledger: Arc<dyn Ledger>) {
    let mission = running_mission(&ledger).await;
    let first = start_attempt(&ledger, mission, "F-A", Duration::ZERO).await;
    assert_eq!((first.epoch, first.state), (1, AttemptState::Dispatched));
    assert_eq!(feature_state(&ledger, mission, "F-A").await.attempts, 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Its lease ran out before any worker took it: the orchestrator abandons it.
    assert_eq!(
        ledger
            .expired_attempts(10)
            .await
            .expect("expired")
            .iter()
            .filter(|a| a.id == first.id)
            .count(),
        1
    );
    ledger
        .apply(
            Change::new(mission, orchestrator()).step(Step::AbandonExpired {
                attempt: first.id,
                reason: "lease expired".to_owned(),
            }),
        )
        .await
        .expect("abandon");
    let second = start_attempt(&ledger, mission, "F-A", Duration::from_secs(60)).await;
    assert_eq!(second.epoch, 2);
    // The first attempt's worker wakes up and reports: refused, and audited.
    let worker = Actor::new("worker:zombie");
    let stale = Change::new(mission, worker).step(Step::Attempt {
        fence: first.fence(),
        to: AttemptState::Running,
        reason: "picked up".to_owned(),
        worker: Some("zombie".to_owned()),
        lease: Some(Duration::from_secs(60)),
    });
    let error = ledger.apply(stale).await.expect_err("stale epoch");
    assert!(
        matches!(
            error,
            LedgerError::StaleEpoch {
                presented: 1,
                current: 2,
                ..
            }
        ),
        "{error}"
    );
    let audit = ledger
        .audit_log(Some(mission), 0, 100)
        .await
        .expect("audit");
    let refusal = audit
        .iter()
        .find(|entry| entry.action == "refused_stale_write")
        .expect("audited");
    assert_eq!(refusal.actor, Actor::new("worker:zombie"));
    // A forged fence with the right attempt and a wrong epoch is refused as well.
    let forged = AttemptFence {
        attempt: second.id,
        epoch: 5,
    };
    let error = ledger
        .heartbeat(
            forged,
            &Actor::new("worker:forger"),
            Duration::from_secs(60),
        )
        .await
        .expect_err("forged epoch");
    assert!(matches!(error, LedgerError::StaleEpoch { .. }), "{error}");
    // The current attempt runs and succeeds.
    ledger
        .apply(
            Change::new(mission, Actor::new("worker:w1")).step(Step::Attempt {
                fence: second.fence(),
                to: AttemptState::Running,
                reason: "picked up".to_owned(),
                worker: Some("w1".to_owned()),
                lease: Some(Duration::from_secs(60)),
            }),
        )
        .await
        .expect("running");
    ledger
        .apply(
            Change::new(mission, Actor::new("worker:w1")).step(Step::Attempt {
                fence: second.fence(),
                to: AttemptState::Succeeded,
                reason: "done".to_owned(),
                worker: None,
                lease: None,
            }),
        )
        .await
        .expect("succeeded");
    let attempts = ledger.attempts(mission).await.expect("attempts");
    let states: Vec<_> = attempts
        .iter()
        .map(|a| (a.epoch, a.state, a.worker.clone()))
        .collect();
    assert_eq!(
        states,
        vec![
            (1, AttemptState::Abandoned, None),
            (2, AttemptState::Succeeded, Some("w1".to_owned()))
        ]
    );
    assert!(attempts[1].finished_at.is_some());
    assert_eq!(
        ledger.attempt(second.id).await.expect("attempt"),
        attempts[1]
    );
    assert!(matches!(
        ledger.attempt(AttemptId::generate()).await,
        Err(LedgerError::NotFound { .. })
    ));
    // A finished attempt takes no more reports, even with its own epoch.
    let late = Change::new(mission, Actor::new("worker:w1")).step(Step::Attempt {
        fence: second.fence(),
        to: AttemptState::Failed,
        reason: "late".to_owned(),
        worker: None,
        lease: None,
    });
    assert!(matches!(
        ledger.apply(late).await,
        Err(LedgerError::StaleEpoch { .. })
    ));
}

pub async fn one_live_attempt_per_target(ledger: Arc<dyn Ledger>) {
    let mission = running_mission(&ledger).await;
    start_attempt(&ledger, mission, "F-A", Duration::from_secs(60)).await;
    let again = Change::new(mission, orchestrator()).step(Step::StartAttempt {
        attempt: AttemptId::generate(),
        target: AttemptTarget::Feature {
            feature: FeatureId::new("F-A"),
        },
        epoch: 2,
        lease: Duration::from_secs(60),
    });
    let error = ledger.apply(again).await.expect_err("second live attempt");
    assert!(matches!(error, LedgerError::Conflict(_)), "{error}");
    // An epoch out of turn is refused too: epochs never repeat and never skip.
    for wrong_epoch in [0, 2] {
        let out_of_turn = Change::new(mission, orchestrator()).step(Step::StartAttempt {
            attempt: AttemptId::generate(),
            target: AttemptTarget::Feature {
                feature: FeatureId::new("F-B"),
            },
            epoch: wrong_epoch,
            lease: Duration::from_secs(60),
        });
        let error = ledger
            .apply(out_of_turn)
            .await
            .expect_err("epoch out of turn");
        assert!(
            error.to_string().contains("the next attempt has epoch 1"),
            "{error}"
        );
    }
    assert_eq!(
        feature_state(&ledger, mission, "F-A").await.attempts,
        1,
        "the refused attempt is not counted"
    );
    // A validation of the milestone is a different target.
    let validation = Change::new(mission, orchestrator()).step(Step::StartAttempt {
        attempt: AttemptId::generate(),
        target: AttemptTarget::Validation {
            milestone: MilestoneId::new("m1"),
            repository: "app".into(),
        },
        epoch: 1,
        lease: Duration::from_secs(60),
    });
    let applied = ledger.apply(validation).await.expect("validation attempt");
    assert_eq!(applied.started[0].epoch, 1);
}

pub async fn an_expired_lease_refuses_reports_and_heartbeats(ledger: Arc<dyn Ledger>) {
    let mission = running_mission(&ledger).await;
    let attempt = start_attempt(&ledger, mission, "F-A", Duration::ZERO).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let worker = Actor::new("worker:late");
    let error = ledger
        .heartbeat(attempt.fence(), &worker, Duration::from_secs(60))
        .await
        .expect_err("expired lease");
    assert!(matches!(error, LedgerError::LeaseExpired { .. }), "{error}");
    let report = Change::new(mission, worker.clone()).step(Step::Attempt {
        fence: attempt.fence(),
        to: AttemptState::Running,
        reason: "picked up".to_owned(),
        worker: Some("late".to_owned()),
        lease: Some(Duration::from_secs(60)),
    });
    assert!(matches!(
        ledger.apply(report).await,
        Err(LedgerError::LeaseExpired { .. })
    ));
    let refusals = audit_actions(&ledger, mission)
        .await
        .into_iter()
        .filter(|action| action == "refused_stale_write")
        .count();
    assert_eq!(refusals, 2);
    // The orchestrator may still cancel it: its decision needs no live lease.
    ledger
        .apply(Change::new(mission, orchestrator()).step(Step::Attempt {
            fence: attempt.fence(),
            to: AttemptState::Cancelled,
            reason: "mission cancelled".to_owned(),
            worker: None,
            lease: None,
        }))
        .await
        .expect("cancel");
    assert!(
        ledger
            .expired_attempts(100)
            .await
            .expect("expired")
            .iter()
            .all(|a| a.id != attempt.id)
    );
}

pub async fn a_heartbeat_extends_the_lease(ledger: Arc<dyn Ledger>) {
    let mission = running_mission(&ledger).await;
    let attempt = start_attempt(&ledger, mission, "F-A", Duration::from_secs(30)).await;
    let now = ledger.now().await.expect("now");
    let expiry = ledger
        .heartbeat(
            attempt.fence(),
            &Actor::new("worker:w1"),
            Duration::from_secs(600),
        )
        .await
        .expect("heartbeat");
    assert!(expiry > attempt.lease_expires_at);
    let extended_by = (expiry - now).num_seconds();
    assert!(
        (590..=601).contains(&extended_by),
        "lease extended by {extended_by}s"
    );
    // A heartbeat writes no event: it would flood the log.
    assert_eq!(event_count(&ledger, mission).await, 3);
}

pub async fn backoff_is_judged_by_the_ledger_clock(ledger: Arc<dyn Ledger>) {
    let mission = running_mission(&ledger).await;
    ledger
        .apply(
            Change::new(mission, orchestrator())
                .step(feature_step("F-A", FeatureState::Dispatched)),
        )
        .await
        .expect("dispatch");
    let now = ledger.now().await.expect("now");
    ledger
        .apply(Change::new(mission, orchestrator()).step(Step::Feature {
            id: FeatureId::new("F-A"),
            to: FeatureState::Pending,
            reason: "attempt failed".to_owned(),
            not_before: Some(Duration::from_secs(120)),
        }))
        .await
        .expect("back off");
    let not_before = feature_state(&ledger, mission, "F-A")
        .await
        .not_before
        .expect("not_before set");
    let delay = (not_before - now).num_seconds();
    assert!((115..=121).contains(&delay), "backoff of {delay}s");
}

pub async fn concurrent_changes_get_gapless_event_sequences(ledger: Arc<dyn Ledger>) {
    let mission = new_mission(&ledger).await;
    let writers = (0..16).map(|index| {
        let ledger = Arc::clone(&ledger);
        tokio::spawn(async move {
            ledger
                .apply(
                    Change::new(mission, orchestrator())
                        .step(Step::Note {
                            kind: "note".to_owned(),
                            data: json!({ "writer": index }),
                        })
                        .send(message(&format!("{mission}-note-{index}"))),
                )
                .await
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.expect("join").expect("apply");
    }
    let events = ledger.events(mission, 0, 100).await.expect("events");
    let seqs: Vec<i64> = events.iter().map(|event| event.seq).collect();
    assert_eq!(seqs, (1..=17).collect::<Vec<i64>>());
    // Outbox rows of one mission come out in the order their changes committed.
    let sink = RecordingSink::default();
    while ledger.drain_outbox(5, &sink).await.expect("drain") > 0 {}
    let rows = sink.rows.lock().expect("sink lock").clone();
    let writers_in_outbox: Vec<_> = rows
        .iter()
        .filter(|row| row.mission == Some(mission))
        .map(|row| row.message.msg_id.clone())
        .collect();
    let writers_in_events: Vec<_> = events[1..]
        .iter()
        .map(|event| format!("{mission}-note-{}", event.data["writer"]))
        .collect();
    assert_eq!(writers_in_outbox, writers_in_events);
}

pub async fn the_outbox_drains_in_order_and_once(ledger: Arc<dyn Ledger>) {
    let mission = new_mission(&ledger).await;
    for index in 0..3 {
        ledger
            .apply(
                Change::new(mission, orchestrator())
                    .step(Step::Note {
                        kind: "note".to_owned(),
                        data: json!({}),
                    })
                    .send(message(&format!("{mission}-{index}"))),
            )
            .await
            .expect("apply");
    }
    let sink = RecordingSink::default();
    let mut drained = Vec::new();
    loop {
        let count = ledger.drain_outbox(2, &sink).await.expect("drain");
        if count == 0 {
            break;
        }
        drained.push(count);
    }
    assert_eq!(drained, vec![2, 1]);
    let rows = sink.rows.lock().expect("sink lock").clone();
    let ids: Vec<_> = rows.iter().map(|row| row.message.msg_id.clone()).collect();
    assert_eq!(
        ids,
        (0..3)
            .map(|index| format!("{mission}-{index}"))
            .collect::<Vec<_>>()
    );
    assert!(rows.windows(2).all(|pair| pair[0].id < pair[1].id));
    assert_eq!(rows[0].message.topic, Topic::FeatureTask);
    assert_eq!(rows[0].message.payload["id"], format!("{mission}-0"));
    assert_eq!(
        rows[0].message.headers["traceparent"],
        format!("trace-{mission}-0")
    );
    assert_eq!(rows[0].mission, Some(mission));
    assert_eq!(ledger.outbox_backlog().await.expect("backlog"), 0);
}

pub async fn a_failed_sink_leaves_rows_unsent(ledger: Arc<dyn Ledger>) {
    let mission = new_mission(&ledger).await;
    ledger
        .apply(
            Change::new(mission, orchestrator())
                .step(Step::Note {
                    kind: "note".to_owned(),
                    data: json!({}),
                })
                .send(message(&format!("{mission}-a")))
                .send(message(&format!("{mission}-b"))),
        )
        .await
        .expect("apply");
    let failing = RecordingSink {
        fail: true,
        ..RecordingSink::default()
    };
    let error = ledger
        .drain_outbox(10, &failing)
        .await
        .expect_err("sink failed");
    assert!(matches!(error, LedgerError::Unavailable(_)), "{error}");
    assert_eq!(ledger.outbox_backlog().await.expect("backlog"), 2);
    let working = RecordingSink::default();
    assert_eq!(ledger.drain_outbox(10, &working).await.expect("drain"), 2);
    assert_eq!(ledger.outbox_backlog().await.expect("backlog"), 0);
}

pub async fn mission_leases_fence_replicas(ledger: Arc<dyn Ledger>) {
    let mission = new_mission(&ledger).await;
    let lease = Duration::from_secs(30);
    let first = ledger
        .claim_missions("replica-1", lease, 100)
        .await
        .expect("claim");
    let held = first
        .iter()
        .find(|held| held.mission == mission)
        .expect("replica-1 holds it")
        .clone();
    let by_second = ledger
        .claim_missions("replica-2", lease, 100)
        .await
        .expect("claim");
    assert!(
        by_second.iter().all(|other| other.mission != mission),
        "a held lease is not taken"
    );
    // Renewal keeps the epoch.
    let renewed = ledger
        .claim_missions("replica-1", lease, 100)
        .await
        .expect("renew");
    let renewed = renewed
        .iter()
        .find(|held| held.mission == mission)
        .expect("renewed");
    assert_eq!(renewed.epoch, held.epoch);
    assert!(renewed.expires_at >= held.expires_at);
    let record = ledger.mission(mission).await.expect("mission");
    assert_eq!(
        record.owner.as_ref().map(|owner| owner.replica.as_str()),
        Some("replica-1")
    );

    let fence = OwnerFence {
        replica: "replica-1".to_owned(),
        epoch: held.epoch,
    };
    ledger
        .apply(
            Change::new(mission, orchestrator())
                .owned_by(fence.clone())
                .step(mission_step(MissionState::Running)),
        )
        .await
        .expect("owner's change");
    let intruder = OwnerFence {
        replica: "replica-2".to_owned(),
        epoch: held.epoch,
    };
    let error = ledger
        .apply(
            Change::new(mission, orchestrator())
                .owned_by(intruder)
                .step(mission_step(MissionState::Paused)),
        )
        .await
        .expect_err("not the owner");
    assert!(matches!(error, LedgerError::StaleEpoch { .. }), "{error}");

    ledger
        .release_mission(&fence, mission)
        .await
        .expect("release");
    let taken = ledger
        .claim_missions("replica-2", lease, 100)
        .await
        .expect("claim");
    let taken = taken
        .iter()
        .find(|held| held.mission == mission)
        .expect("replica-2 takes it");
    assert_eq!(taken.epoch, held.epoch + 1);
    let error = ledger
        .apply(
            Change::new(mission, orchestrator())
                .owned_by(fence)
                .step(mission_step(MissionState::Paused)),
        )
        .await
        .expect_err("old owner fenced off");
    assert!(matches!(error, LedgerError::StaleEpoch { .. }), "{error}");
    assert_eq!(
        ledger.mission(mission).await.expect("mission").state,
        MissionState::Running
    );
    assert!(
        audit_actions(&ledger, mission)
            .await
            .contains(&"refused_stale_write".to_owned())
    );
}

pub async fn an_expired_mission_lease_moves_to_another_replica(ledger: Arc<dyn Ledger>) {
    let mission = new_mission(&ledger).await;
    let first = ledger
        .claim_missions("replica-1", Duration::ZERO, 100)
        .await
        .expect("claim");
    let first = first
        .iter()
        .find(|held| held.mission == mission)
        .expect("claimed")
        .clone();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = ledger
        .claim_missions("replica-2", Duration::from_secs(30), 100)
        .await
        .expect("claim");
    let second = second
        .iter()
        .find(|held| held.mission == mission)
        .expect("taken over");
    assert_eq!(second.epoch, first.epoch + 1);
    // A finished mission is claimed by nobody.
    let fence = OwnerFence {
        replica: "replica-2".to_owned(),
        epoch: second.epoch,
    };
    ledger
        .apply(
            Change::new(mission, orchestrator())
                .owned_by(fence)
                .step(mission_step(MissionState::Cancelled)),
        )
        .await
        .expect("cancel");
    ledger
        .release_mission(
            &OwnerFence {
                replica: "replica-2".to_owned(),
                epoch: second.epoch,
            },
            mission,
        )
        .await
        .expect("release");
    let after = ledger
        .claim_missions("replica-3", Duration::from_secs(30), 100)
        .await
        .expect("claim");
    assert!(after.iter().all(|held| held.mission != mission));
}

pub async fn handoffs_and_findings_are_stored(ledger: Arc<dyn Ledger>) {
    let mission = running_mission(&ledger).await;
    let attempt = start_attempt(&ledger, mission, "F-A", Duration::from_secs(60)).await;
    let handoff = Handoff {
        summary: "added the store".to_owned(),
        integrated_commit: Some("abc123".to_owned()),
        ..Handoff::default()
    };
    ledger
        .apply(
            Change::new(mission, Actor::new("worker:w1")).step(Step::Handoff {
                fence: attempt.fence(),
                handoff: handoff.clone(),
            }),
        )
        .await
        .expect("handoff");
    let stored = ledger.handoffs(mission).await.expect("handoffs");
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].attempt, &stored[0].handoff),
        (attempt.id, &handoff)
    );

    let validation = ledger
        .apply(
            Change::new(mission, orchestrator()).step(Step::StartAttempt {
                attempt: AttemptId::generate(),
                target: AttemptTarget::Validation {
                    milestone: MilestoneId::new("m1"),
                    repository: "app".into(),
                },
                epoch: 1,
                lease: Duration::from_secs(60),
            }),
        )
        .await
        .expect("validation")
        .started
        .remove(0);
    let finding = sortie_model::records::Finding {
        assertion: Some("VAL-APP-001".into()),
        check: "assertion".to_owned(),
        severity: Severity::High,
        summary: "exit code 1, expected 0".to_owned(),
        evidence: vec![sortie_model::records::Evidence::Note {
            text: "cargo build failed".to_owned(),
        }],
    };
    ledger
        .apply(
            Change::new(mission, Actor::new("validator:v1")).step(Step::Finding {
                fence: validation.fence(),
                milestone: MilestoneId::new("m1"),
                finding: finding.clone(),
            }),
        )
        .await
        .expect("finding");
    let findings = ledger.findings(mission).await.expect("findings");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].finding, finding);
    assert_eq!(findings[0].milestone.as_str(), "m1");
    let kinds: Vec<_> = ledger
        .events(mission, 0, 100)
        .await
        .expect("events")
        .into_iter()
        .map(|event| event.kind)
        .collect();
    assert!(kinds.contains(&"handoff_recorded".to_owned()));
    assert!(kinds.contains(&"finding_recorded".to_owned()));
}

/// Store `handoff` for `attempt` and end the attempt in `to`, as the report consumer does.
async fn finish_attempt(
    ledger: &Arc<dyn Ledger>,
    mission: MissionId,
    attempt: &AttemptRecord,
    handoff: Handoff,
    to: AttemptState,
) {
    ledger
        .apply(
            Change::new(mission, Actor::new("worker:w1"))
                .step(Step::Attempt {
                    fence: attempt.fence(),
                    to: AttemptState::Running,
                    reason: "taken by w1".to_owned(),
                    worker: Some("w1".to_owned()),
                    lease: Some(Duration::from_secs(60)),
                })
                .step(Step::Handoff {
                    fence: attempt.fence(),
                    handoff,
                })
                .step(Step::Attempt {
                    fence: attempt.fence(),
                    to,
                    reason: "conformance".to_owned(),
                    worker: None,
                    lease: None,
                }),
        )
        .await
        .expect("finish the attempt");
}

pub async fn a_missions_usage_sums_its_attempts_handoffs(ledger: Arc<dyn Ledger>) {
    let mission = running_mission(&ledger).await;
    let quiet = running_mission(&ledger).await;
    let unpriced = running_mission(&ledger).await;
    let before = ledger
        .mission_usage(&[mission, quiet])
        .await
        .expect("usage before any handoff");
    assert!(before.is_empty(), "{before:?}");

    let priced = Usage {
        input_tokens: 1_200,
        output_tokens: 300,
        cached_input_tokens: 4_000,
        cost_usd: Some(0.125),
        turns: 4,
        tool_calls: 7,
        wall_ms: 2_500,
    };
    let unpriced_usage = Usage {
        input_tokens: 800,
        output_tokens: 100,
        cached_input_tokens: 0,
        cost_usd: None,
        turns: 2,
        tool_calls: 1,
        wall_ms: 1_500,
    };
    let succeeded = start_attempt(&ledger, mission, "F-A", Duration::from_secs(60)).await;
    finish_attempt(
        &ledger,
        mission,
        &succeeded,
        Handoff {
            summary: "added the store".to_owned(),
            usage: Some(priced.clone()),
            ..Handoff::default()
        },
        AttemptState::Succeeded,
    )
    .await;
    let failed = start_attempt(&ledger, mission, "F-C", Duration::from_secs(60)).await;
    finish_attempt(
        &ledger,
        mission,
        &failed,
        Handoff {
            summary: "the tests failed".to_owned(),
            usage: Some(unpriced_usage.clone()),
            ..Handoff::default()
        },
        AttemptState::Failed,
    )
    .await;
    // A handoff from before usage was reported counts for nothing.
    let old = start_attempt(&ledger, quiet, "F-A", Duration::from_secs(60)).await;
    finish_attempt(
        &ledger,
        quiet,
        &old,
        Handoff {
            summary: "no usage".to_owned(),
            ..Handoff::default()
        },
        AttemptState::Succeeded,
    )
    .await;
    let only_unpriced = start_attempt(&ledger, unpriced, "F-A", Duration::from_secs(60)).await;
    finish_attempt(
        &ledger,
        unpriced,
        &only_unpriced,
        Handoff {
            summary: "no dollars".to_owned(),
            usage: Some(unpriced_usage.clone()),
            ..Handoff::default()
        },
        AttemptState::Failed,
    )
    .await;

    let totals = ledger
        .mission_usage(&[mission, quiet, unpriced])
        .await
        .expect("usage");
    assert_eq!(
        totals.get(&mission),
        Some(&Usage {
            input_tokens: 2_000,
            output_tokens: 400,
            cached_input_tokens: 4_000,
            cost_usd: Some(0.125),
            turns: 6,
            tool_calls: 8,
            wall_ms: 4_000,
        }),
        "the succeeded and the failed attempt both count"
    );
    assert_eq!(totals.get(&quiet), None);
    assert_eq!(
        totals.get(&unpriced),
        Some(&unpriced_usage),
        "dollars stay unknown when no attempt reported any"
    );
    let one = ledger.mission_usage(&[unpriced]).await.expect("usage");
    assert_eq!(one.len(), 1, "only the missions asked for: {one:?}");
}

pub async fn a_plan_amendment_adds_work_and_keeps_history(ledger: Arc<dyn Ledger>) {
    let mission = running_mission(&ledger).await;
    let mut amended = sample_plan();
    let mut fix = amended.features[0].clone();
    fix.id = FeatureId::new("F-FIX-1");
    fix.preconditions = vec![FeatureId::new("F-A")];
    amended.features.insert(1, fix);
    let applied = ledger
        .apply(Change::new(mission, orchestrator()).step(Step::AmendPlan {
            plan: Box::new(amended.clone()),
            created_by: "orchestrator".to_owned(),
            approved_by: None,
            reason: "validation found problems".to_owned(),
        }))
        .await
        .expect("amend");
    assert_eq!(applied.events.len(), 1);
    assert_eq!(
        ledger.mission(mission).await.expect("mission").plan_version,
        2
    );
    assert_eq!(
        ledger.plan(mission, None).await.expect("plan").plan,
        amended
    );
    assert_eq!(
        ledger.plan(mission, Some(1)).await.expect("plan").plan,
        sample_plan()
    );
    let features: Vec<_> = ledger
        .features(mission)
        .await
        .expect("features")
        .into_iter()
        .map(|feature| (feature.id.to_string(), feature.state))
        .collect();
    assert_eq!(
        features,
        vec![
            ("F-A".to_owned(), FeatureState::Pending),
            ("F-FIX-1".to_owned(), FeatureState::Pending),
            ("F-B".to_owned(), FeatureState::Pending),
            ("F-C".to_owned(), FeatureState::Pending),
        ]
    );
    let events = ledger.events(mission, 0, 100).await.expect("events");
    let last = events.last().expect("event");
    assert_eq!(last.kind, "plan_amended");
    assert_eq!(last.data["added_features"], json!(["F-FIX-1"]));

    // A version that silently drops a feature is refused, and changes nothing.
    let mut dropping = amended;
    dropping
        .features
        .retain(|feature| feature.id.as_str() != "F-C");
    let error = ledger
        .apply(Change::new(mission, orchestrator()).step(Step::AmendPlan {
            plan: Box::new(dropping),
            created_by: "orchestrator".to_owned(),
            approved_by: None,
            reason: "drop".to_owned(),
        }))
        .await
        .expect_err("dropping a live feature");
    assert!(matches!(error, LedgerError::Invalid(_)), "{error}");
    assert!(error.to_string().contains("F-C"), "{error}");
    assert_eq!(
        ledger.mission(mission).await.expect("mission").plan_version,
        2
    );
}

pub async fn a_draft_is_approved_once_for_its_current_plan_then_launched(ledger: Arc<dyn Ledger>) {
    let mission = ledger
        .create_mission(MissionSubmission {
            approved_by: None,
            ..submission()
        })
        .await
        .expect("create draft");
    let draft = ledger.mission(mission).await.expect("mission");
    assert_eq!(draft.state, MissionState::Draft);
    assert_eq!(draft.approval, None);
    assert_eq!(
        ledger.plan(mission, None).await.expect("plan").approved_by,
        None
    );

    let person = Actor::person("bob");
    let error = ledger
        .apply(Change::new(mission, person.clone()).step(mission_step(MissionState::Running)))
        .await
        .expect_err("a draft is not launched");
    assert!(matches!(error, LedgerError::Conflict(_)), "{error}");
    assert!(error.to_string().contains("needs approval"), "{error}");

    // The plan changes while it is a draft: approving the version read before is refused.
    let mut amended = sample_plan();
    amended.mission.goal = "prove the ledger, revised".to_owned();
    ledger
        .apply(Change::new(mission, person.clone()).step(Step::AmendPlan {
            plan: Box::new(amended),
            created_by: "alice".to_owned(),
            approved_by: None,
            reason: "revised".to_owned(),
        }))
        .await
        .expect("amend the draft");
    let approve = |plan_version| {
        Change::new(mission, person.clone()).step(Step::Approve {
            by: "bob".to_owned(),
            plan_version,
        })
    };
    let error = ledger
        .apply(approve(1))
        .await
        .expect_err("a stale version is refused");
    assert!(matches!(error, LedgerError::Conflict(_)), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("plan version 1") && message.contains("version 2"),
        "{message}"
    );
    assert_eq!(
        ledger.mission(mission).await.expect("mission").state,
        MissionState::Draft
    );

    let before = ledger.now().await.expect("now");
    ledger.apply(approve(2)).await.expect("approve");
    let approved = ledger.mission(mission).await.expect("mission");
    assert_eq!(approved.state, MissionState::Approved);
    let approval = approved.approval.expect("the approval is recorded");
    assert_eq!((approval.by.as_str(), approval.plan_version), ("bob", 2));
    assert!(approval.at >= before);
    assert_eq!(
        ledger
            .plan(mission, Some(2))
            .await
            .expect("plan")
            .approved_by
            .as_deref(),
        Some("bob")
    );
    assert_eq!(
        ledger
            .plan(mission, Some(1))
            .await
            .expect("plan")
            .approved_by,
        None
    );
    let events = ledger.events(mission, 0, 100).await.expect("events");
    let last = events.last().expect("events");
    assert_eq!(last.kind, "mission_approved");
    assert_eq!(last.data["by"], "bob");
    assert_eq!(last.data["plan_version"], 2);
    assert_eq!(last.data["to"], "approved");
    let audit = ledger
        .audit_log(Some(mission), 0, 100)
        .await
        .expect("audit log");
    let entry = audit
        .iter()
        .find(|entry| entry.action == "approve_mission")
        .expect("the approval is audited");
    assert_eq!(entry.actor, person);
    assert_eq!(entry.detail["by"], "bob");
    assert_eq!(entry.detail["plan_version"], 2);

    let error = ledger
        .apply(approve(2))
        .await
        .expect_err("approving twice is refused");
    assert!(matches!(error, LedgerError::Conflict(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains("already approved: bob approved plan version 2"),
        "{error}"
    );
    let events_before_launch = event_count(&ledger, mission).await;

    ledger
        .apply(Change::new(mission, person).step(mission_step(MissionState::Running)))
        .await
        .expect("launch the approved mission");
    let launched = ledger.mission(mission).await.expect("mission");
    assert_eq!(launched.state, MissionState::Running);
    assert_eq!(
        launched.approval.map(|approval| approval.by),
        Some("bob".to_owned()),
        "launching keeps the approval"
    );
    assert_eq!(
        event_count(&ledger, mission).await,
        events_before_launch + 1
    );
}
