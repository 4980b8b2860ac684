//! Reports to the orchestrator about one validation attempt, each with a dedupe id derived
//! from the attempt, so that a report sent twice is stored once.

use std::sync::Arc;

use sortie_bus::{Bus, BusError, Headers, Route};
use sortie_model::messages::{Envelope, Topic};
use sortie_model::protocol::{CheckResult, Report, kind};
use sortie_model::records::{Evidence, Finding};
use sortie_model::{AttemptFence, MissionId};

use crate::text::{keep_head, keep_tail};

/// The largest report the validator sends, well inside the bus's message limit. A larger
/// one has its evidence cut down until it fits.
pub(crate) const REPORT_BUDGET_BYTES: usize = 512 * 1024;

/// Sends one attempt's reports.
#[derive(Debug)]
pub(crate) struct Reporter {
    bus: Arc<dyn Bus>,
    mission: MissionId,
    fence: AttemptFence,
    worker: String,
    /// Which delivery of the task this is (1 the first time).
    delivered: u64,
    /// The trace context the reports carry.
    headers: Headers,
}

pub(crate) fn started_id(fence: AttemptFence) -> String {
    format!("report-{}-started", fence.attempt)
}

/// Heartbeats of a later delivery carry the delivery, so that they are not taken for
/// copies of the first delivery's heartbeats and dropped.
pub(crate) fn heartbeat_id(fence: AttemptFence, delivered: u64, beat: u64) -> String {
    if delivered <= 1 {
        format!("report-{}-hb-{beat}", fence.attempt)
    } else {
        format!("report-{}-d{delivered}-hb-{beat}", fence.attempt)
    }
}

pub(crate) fn finished_id(fence: AttemptFence) -> String {
    format!("report-{}-finished", fence.attempt)
}

impl Reporter {
    pub(crate) fn new(
        bus: Arc<dyn Bus>,
        mission: MissionId,
        fence: AttemptFence,
        worker: String,
        delivered: u64,
        headers: Headers,
    ) -> Self {
        Self {
            bus,
            mission,
            fence,
            worker,
            delivered,
            headers,
        }
    }

    pub(crate) async fn started(&self) -> Result<(), BusError> {
        let report = Report::Started {
            fence: self.fence,
            worker: self.worker.clone(),
        };
        self.send(started_id(self.fence), report).await
    }

    pub(crate) async fn heartbeat(&self, beat: u64, activity: String) -> Result<(), BusError> {
        let report = Report::Heartbeat {
            fence: self.fence,
            worker: self.worker.clone(),
            activity: Some(activity),
        };
        self.send(heartbeat_id(self.fence, self.delivered, beat), report)
            .await
    }

    pub(crate) async fn finished(
        &self,
        commit: String,
        mut checks: Vec<CheckResult>,
        mut findings: Vec<Finding>,
    ) -> Result<(), BusError> {
        fit(&mut checks, &mut findings, REPORT_BUDGET_BYTES);
        let report = Report::ValidationFinished {
            fence: self.fence,
            worker: self.worker.clone(),
            commit,
            checks,
            findings,
        };
        self.send(finished_id(self.fence), report).await
    }

    /// Publish and wait until the bus stored it.
    async fn send(&self, msg_id: String, report: Report) -> Result<(), BusError> {
        let envelope = Envelope::new(msg_id.clone(), kind::REPORT, Some(self.mission), report);
        let payload = serde_json::to_vec(&envelope).expect("a report is always serialisable");
        self.bus
            .publish(
                Route::mission(Topic::AttemptReport, self.mission),
                &msg_id,
                payload.into(),
                &self.headers,
            )
            .await?;
        Ok(())
    }
}

/// The evidence limits tried, in turn, until a report fits: first the findings' copies
/// of the evidence are cut (the checks keep theirs, which the orchestrator reads), then
/// the checks' too.
const SHRINK_STEPS: [(usize, usize); 4] = [
    (2 * 1024, usize::MAX),
    (512, 4 * 1024),
    (256, 1024),
    (128, 256),
];

/// Cut evidence down until the report's checks and findings fit in `budget` bytes.
pub(crate) fn fit(checks: &mut [CheckResult], findings: &mut [Finding], budget: usize) {
    for (finding_limit, check_limit) in SHRINK_STEPS {
        if encoded_size(checks, findings) <= budget {
            return;
        }
        for finding in findings.iter_mut() {
            shrink(&mut finding.evidence, finding_limit);
        }
        for check in checks.iter_mut() {
            shrink(&mut check.evidence, check_limit);
        }
    }
    if encoded_size(checks, findings) > budget {
        tracing::warn!(
            budget,
            "a report is too large even with its evidence cut down"
        );
    }
}

fn encoded_size(checks: &[CheckResult], findings: &[Finding]) -> usize {
    let checks = serde_json::to_vec(checks).map_or(0, |bytes| bytes.len());
    let findings = serde_json::to_vec(findings).map_or(0, |bytes| bytes.len());
    checks + findings
}

/// Output keeps its end (where failures show), bodies and notes their start.
fn shrink(evidence: &mut [Evidence], limit: usize) {
    for item in evidence {
        match item {
            Evidence::Command(run) => keep_tail(&mut run.output_tail, limit),
            Evidence::HttpExchange { body_excerpt, .. } => keep_head(body_excerpt, limit),
            Evidence::Note { text } => keep_head(text, limit.max(1024)),
            Evidence::FileExcerpt { excerpt, .. } => keep_head(excerpt, limit.max(1024)),
            Evidence::Screenshot { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use sortie_model::AttemptId;
    use sortie_model::records::{CommandRun, Severity};

    use super::*;

    fn fence() -> AttemptFence {
        AttemptFence {
            attempt: AttemptId::generate(),
            epoch: 3,
        }
    }

    #[test]
    fn report_ids_name_the_attempt() {
        let fence = fence();
        let attempt = fence.attempt;
        assert_eq!(started_id(fence), format!("report-{attempt}-started"));
        assert_eq!(finished_id(fence), format!("report-{attempt}-finished"));
        assert_eq!(heartbeat_id(fence, 1, 4), format!("report-{attempt}-hb-4"));
        assert_eq!(
            heartbeat_id(fence, 2, 4),
            format!("report-{attempt}-d2-hb-4"),
            "a redelivery's heartbeats are new messages"
        );
    }

    fn run(output: String) -> Evidence {
        Evidence::Command(CommandRun {
            command: "make test".to_owned(),
            exit_code: Some(1),
            output_tail: output,
            duration_ms: 1,
        })
    }

    #[test]
    fn a_report_too_large_has_its_evidence_cut_to_fit() {
        let output = format!("{}the end", "x".repeat(16 * 1024));
        let mut checks: Vec<CheckResult> = (0..20)
            .map(|_| CheckResult {
                assertion: None,
                check: "assertion".to_owned(),
                passed: false,
                evidence: vec![run(output.clone())],
            })
            .collect();
        let mut findings: Vec<Finding> = (0..20)
            .map(|_| Finding {
                assertion: None,
                check: "assertion".to_owned(),
                severity: Severity::High,
                summary: "failed".to_owned(),
                evidence: vec![run(output.clone())],
            })
            .collect();
        let before = encoded_size(&checks, &findings);
        fit(&mut checks, &mut findings, 400 * 1024);
        assert!(before > 600 * 1024);
        assert!(
            encoded_size(&checks, &findings) <= 400 * 1024,
            "fits after the findings' evidence was cut"
        );
        let Evidence::Command(kept) = &checks[0].evidence[0] else {
            panic!("command evidence");
        };
        assert_eq!(
            kept.output_tail, output,
            "the checks' evidence is untouched"
        );
        let Evidence::Command(cut) = &findings[0].evidence[0] else {
            panic!("command evidence");
        };
        assert_eq!(cut.output_tail.len(), 2 * 1024);
        assert!(
            cut.output_tail.ends_with("the end"),
            "the end of the output is kept"
        );

        fit(&mut checks, &mut findings, 64 * 1024);
        assert!(encoded_size(&checks, &findings) <= 64 * 1024);
    }
}
