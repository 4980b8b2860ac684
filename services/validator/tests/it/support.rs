//! A validator running in-process on a test's own bus prefix, a fixture repository with a
//! tiny HTTP service, and the reports the validator sends.

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sortie_bus::{Bus, BusOptions, Deliveries, Headers, JetStreamBus, Route, WorkQueue};
use sortie_model::messages::{Envelope, Topic};
use sortie_model::plan::{
    Assertion, Check, Milestone, MissionHeader, MissionSettings, Plan, Repository,
    ServiceDefinition, ServicesBlock,
};
use sortie_model::protocol::{CheckResult, Report, RepositoryTarget, ValidationTask, kind};
use sortie_model::records::{Evidence, Finding};
use sortie_model::{AssertionId, AttemptFence, AttemptId, MilestoneId, MissionId};
use sortie_settings::AgentProfileSettings;
use sortie_test_support::{BareRepo, GitFixture, TestNats};
use sortie_validator::{Application, Config, Limits};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The longest a test waits for a validation's report.
pub(crate) const REPORT_TIMEOUT: Duration = Duration::from_secs(90);

/// The fixture's HTTP service: answers `/health`, and `/notes?q=` with the notes that
/// contain the query. Its port comes from `PORT`; it writes its pid to `server.pid`.
const SERVER_PY: &str = r#"
import http.server, json, os

NOTES = ["buy milk", "call mum"]

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            return self.reply(200, "ok")
        if self.path.startswith("/notes"):
            query = self.path.partition("?q=")[2]
            return self.reply(200, json.dumps([note for note in NOTES if query in note]))
        self.reply(404, "not found")

    def reply(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

with open("server.pid", "w") as pid_file:
    pid_file.write(str(os.getpid()))
port = int(os.environ["PORT"])
print("notes service listening on", port, flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"#;

/// A repository with a notes service, build, test and lint scripts, and a check that
/// fails.
pub(crate) fn fixture_repository() -> (BareRepo, String) {
    let mut fixture = GitFixture::new().expect("a fixture repository");
    fixture
        .file("server.py", SERVER_PY)
        .unwrap()
        .file(
            "build.sh",
            "echo building\nsleep 2\nmkdir -p out\necho built > out/artifact\n",
        )
        .unwrap()
        .file(
            "test.sh",
            "test -f out/artifact || { echo 'not built'; exit 1; }\necho '3 tests passed'\n",
        )
        .unwrap()
        .file("lint.sh", "echo 'lint: clean'\n")
        .unwrap()
        .file(
            "check.sh",
            "echo 'checking notes'\necho 'FAILED: expected 2 notes, found 1' >&2\nexit 1\n",
        )
        .unwrap();
    let commit = fixture.commit("notes service").expect("a commit");
    // A later commit on the branch: the validator must check out the one it is given.
    fixture
        .file("lint.sh", "echo 'lint: broken'; exit 1\n")
        .unwrap();
    fixture.commit("break the lint").expect("a commit");
    let bare = fixture.into_bare().expect("a bare repository");
    (bare, commit)
}

/// A validation task for `commit` of `repository`, with nothing to check yet.
pub(crate) fn task(repository: &BareRepo, commit: &str) -> ValidationTask {
    ValidationTask {
        mission: MissionId::generate(),
        mission_name: "notes".to_owned(),
        plan_version: 1,
        fence: AttemptFence {
            attempt: AttemptId::generate(),
            epoch: 1,
        },
        milestone: MilestoneId::new("m1"),
        target: RepositoryTarget {
            repository: Repository {
                name: "notes".into(),
                url: repository.url.clone(),
                base_branch: "main".to_owned(),
                integration_branch: None,
            },
            integration_branch: "sortie/notes".to_owned(),
        },
        commit: commit.to_owned(),
        assertions: Vec::new(),
        services: ServicesBlock::default(),
        run_scrutiny: false,
        run_user_testing: true,
        heartbeat_seconds: 1,
        time_limit_seconds: 120,
        agent: "scripted".to_owned(),
        features: Vec::new(),
        mcp_servers: Vec::new(),
    }
}

pub(crate) fn command_assertion(
    id: &str,
    run: &str,
    expect_output: Option<&str>,
    timeout_seconds: Option<u32>,
) -> Assertion {
    Assertion {
        id: AssertionId::new(id),
        statement: format!("{id} holds"),
        check: Check::Command {
            run: run.to_owned(),
            expect_exit: 0,
            expect_output: expect_output.map(str::to_owned),
            timeout_seconds,
        },
    }
}

pub(crate) fn http_assertion(id: &str, path: &str, expect_body: &str) -> Assertion {
    Assertion {
        id: AssertionId::new(id),
        statement: format!("{id} holds"),
        check: Check::Http {
            service: "api".to_owned(),
            method: "GET".to_owned(),
            path: path.to_owned(),
            body: None,
            expect_status: 200,
            expect_body: Some(expect_body.to_owned()),
        },
    }
}

/// The notes service on `port`.
pub(crate) fn notes_service(port: u16) -> ServiceDefinition {
    ServiceDefinition {
        name: "api".to_owned(),
        run: "python3 server.py".to_owned(),
        port,
        health: "/health".to_owned(),
        health_timeout_seconds: 20,
        stop: None,
    }
}

/// A port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().unwrap().port()
}

/// Whether something still listens on `port`.
pub(crate) fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Whether a process runs: it exists and is not a zombie waiting to be reaped.
pub(crate) fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        })
        .unwrap_or(false)
}

/// The pid a test command wrote to `path`.
pub(crate) fn read_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
        .trim()
        .parse()
        .expect("a pid")
}

/// Bus timings short enough that a missing heartbeat shows as a redelivery within a test.
fn bus_options() -> BusOptions {
    BusOptions {
        client_name: Some("sortie-validator-tests".to_owned()),
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        ack_wait: Duration::from_secs(2),
        retry_delay: Duration::from_millis(200),
        max_retry_delay: Duration::from_secs(1),
        ..BusOptions::default()
    }
}

/// Limits short enough for tests.
pub(crate) fn test_limits() -> Limits {
    Limits {
        service_stop_command: Duration::from_secs(5),
        service_stop_grace: Duration::from_secs(2),
        fetch_wait: Duration::from_millis(200),
        ..Limits::default()
    }
}

/// A validator running in-process, and the test's end of the bus.
pub(crate) struct Harness {
    pub(crate) bus: Arc<JetStreamBus>,
    pub(crate) id: String,
    /// Where the validator makes its checkouts and mirrors.
    pub(crate) root: TempDir,
    reports: Box<dyn Deliveries>,
    stop: Option<oneshot::Sender<()>>,
    running: Option<JoinHandle<sortie_validator::Result<()>>>,
    // Last: its streams are deleted when the test ends.
    _nats: TestNats,
}

/// What the validator reported about one attempt.
#[derive(Debug)]
pub(crate) struct Reports {
    pub(crate) all: Vec<Envelope<Report>>,
    /// The most redeliveries of validation tasks seen while waiting.
    pub(crate) redelivered: u64,
}

impl Reports {
    pub(crate) fn finished(&self) -> (&str, &[CheckResult], &[Finding]) {
        let last = self.all.last().expect("a report");
        let Report::ValidationFinished {
            commit,
            checks,
            findings,
            ..
        } = &last.body
        else {
            panic!("the last report is not ValidationFinished: {:?}", last.body);
        };
        (commit, checks, findings)
    }

    pub(crate) fn heartbeats(&self) -> usize {
        self.all
            .iter()
            .filter(|report| matches!(report.body, Report::Heartbeat { .. }))
            .count()
    }
}

impl Harness {
    pub(crate) async fn start() -> Self {
        Self::start_with(Duration::from_secs(30)).await
    }

    /// Start a validator that, when stopped, gives running validations `grace`.
    pub(crate) async fn start_with(grace: Duration) -> Self {
        Self::start_with_agents(grace, BTreeMap::new()).await
    }

    /// Start a validator whose settings have the agent profiles `agents`.
    pub(crate) async fn start_with_agents(
        grace: Duration,
        agents: BTreeMap<String, AgentProfileSettings>,
    ) -> Self {
        let nats = TestNats::new().await.expect("the test NATS");
        let bus = JetStreamBus::connect(nats.url(), nats.prefix(), bus_options())
            .await
            .expect("connecting to NATS");
        bus.ensure_topology().await.expect("the bus topology");
        let bus = Arc::new(bus);
        let root = tempfile::Builder::new()
            .prefix("sortie-validator-it")
            .tempdir()
            .unwrap();
        let id = format!("validator-test-{}", &nats.prefix()[2..]);
        let config = Config {
            id: id.clone(),
            concurrency: 2,
            workspace_root: root.path().to_path_buf(),
            git: sortie_git::GitConfig::default(),
            limits: test_limits(),
            agents,
        };
        let application = Application::with_config(Arc::clone(&bus) as Arc<dyn Bus>, config)
            .expect("a validator");
        assert_eq!(application.id(), id);
        let (stop, stopped) = oneshot::channel::<()>();
        let running = tokio::spawn(application.run_until_stopped(
            async move {
                let _ = stopped.await;
            },
            grace,
        ));
        let reports = bus
            .consume(WorkQueue::AttemptReports)
            .await
            .expect("the reports queue");
        Self {
            bus,
            id,
            root,
            reports,
            stop: Some(stop),
            running: Some(running),
            _nats: nats,
        }
    }

    pub(crate) async fn publish(&self, task: &ValidationTask) {
        let msg_id = format!("task-{}-{}", task.fence.attempt, task.fence.epoch);
        let envelope = Envelope::new(
            msg_id.clone(),
            kind::VALIDATION_TASK,
            Some(task.mission),
            task.clone(),
        );
        self.publish_raw(
            task.mission,
            &msg_id,
            Bytes::from(serde_json::to_vec(&envelope).unwrap()),
        )
        .await;
    }

    pub(crate) async fn publish_raw(&self, mission: MissionId, msg_id: &str, payload: Bytes) {
        self.bus
            .publish(
                Route::mission(Topic::ValidationTask, mission),
                msg_id,
                payload,
                &Headers::new(),
            )
            .await
            .expect("publishing a validation task");
    }

    /// Every report about `attempt` up to and with its ValidationFinished.
    pub(crate) async fn reports_until_finished(&self, attempt: AttemptId) -> Reports {
        let deadline = tokio::time::Instant::now() + REPORT_TIMEOUT;
        let mut reports = Reports {
            all: Vec::new(),
            redelivered: 0,
        };
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no ValidationFinished within {REPORT_TIMEOUT:?}; reports so far: {:#?}",
                reports.all
            );
            let stats = self
                .bus
                .queue_stats(WorkQueue::ValidationTasks)
                .await
                .expect("the task queue's stats");
            reports.redelivered = reports.redelivered.max(stats.redelivered);
            let Some(delivery) = self
                .reports
                .next(Duration::from_millis(500))
                .await
                .expect("fetching reports")
            else {
                continue;
            };
            let envelope = Envelope::<Report>::from_slice(delivery.payload()).expect("a report");
            assert_eq!(delivery.msg_id(), Some(envelope.id.as_str()));
            delivery.ack().await.expect("acknowledging a report");
            if envelope.body.fence().attempt != attempt {
                continue;
            }
            let finished = matches!(envelope.body, Report::ValidationFinished { .. });
            reports.all.push(envelope);
            if finished {
                return reports;
            }
        }
    }

    /// The next report of any attempt within `wait`, acknowledged.
    pub(crate) async fn next_report(&self, wait: Duration) -> Option<Envelope<Report>> {
        let delivery = self.reports.next(wait).await.expect("fetching reports")?;
        let envelope = Envelope::<Report>::from_slice(delivery.payload()).expect("a report");
        delivery.ack().await.expect("acknowledging a report");
        Some(envelope)
    }

    /// Where the validator checks out `attempt`.
    pub(crate) fn checkout_of(&self, attempt: AttemptId) -> PathBuf {
        self.root.path().join(attempt.to_string())
    }

    /// Stop the validator and wait until it returned.
    pub(crate) async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(running) = self.running.take() {
            tokio::time::timeout(Duration::from_secs(60), running)
                .await
                .expect("the validator stops in time")
                .expect("the validator task")
                .expect("the validator stops cleanly");
        }
    }
}

/// Check that a validation's report is well-formed and names its attempt, and that its
/// checkout is gone.
pub(crate) fn assert_reported(harness: &Harness, task: &ValidationTask, reports: &Reports) {
    let first = &reports.all[0];
    assert!(
        matches!(&first.body, Report::Started { worker, .. } if *worker == harness.id),
        "the first report is Started: {:?}",
        first.body
    );
    assert_eq!(first.id, format!("report-{}-started", task.fence.attempt));
    let last = reports.all.last().unwrap();
    assert_eq!(last.id, format!("report-{}-finished", task.fence.attempt));
    assert_eq!(last.kind, kind::REPORT);
    for report in &reports.all {
        assert_eq!(report.mission, Some(task.mission));
        assert_eq!(report.body.fence(), task.fence);
        assert_eq!(report.body.worker(), harness.id);
    }
    let (commit, _, _) = reports.finished();
    assert_eq!(commit, task.commit);
    assert_eq!(
        reports.redelivered, 0,
        "heartbeats kept the task from being redelivered"
    );
    assert!(
        !harness.checkout_of(task.fence.attempt).exists(),
        "the checkout was removed"
    );
}

/// The check result for `assertion`.
pub(crate) fn check_of<'a>(checks: &'a [CheckResult], assertion: &str) -> &'a CheckResult {
    checks
        .iter()
        .find(|check| {
            check
                .assertion
                .as_ref()
                .is_some_and(|id| id.as_str() == assertion)
        })
        .unwrap_or_else(|| panic!("no result for {assertion}: {checks:#?}"))
}

/// The findings about `assertion`.
pub(crate) fn findings_of<'a>(findings: &'a [Finding], assertion: &str) -> Vec<&'a Finding> {
    findings
        .iter()
        .filter(|finding| {
            finding
                .assertion
                .as_ref()
                .is_some_and(|id| id.as_str() == assertion)
        })
        .collect()
}

/// The first command run among `evidence`.
pub(crate) fn command_evidence(evidence: &[Evidence]) -> &sortie_model::records::CommandRun {
    evidence
        .iter()
        .find_map(|item| match item {
            Evidence::Command(run) => Some(run),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no command evidence in {evidence:#?}"))
}

/// A plan holding the task's assertions and services, for the orchestrator's evidence
/// check.
pub(crate) fn plan_of(task: &ValidationTask) -> Plan {
    Plan {
        mission: MissionHeader {
            name: task.mission_name.clone(),
            goal: "notes".to_owned(),
        },
        repositories: vec![task.target.repository.clone()],
        settings: MissionSettings {
            skip_scrutiny: !task.run_scrutiny,
            skip_user_testing: !task.run_user_testing,
            ..MissionSettings::default()
        },
        milestones: vec![Milestone {
            id: task.milestone.clone(),
            title: "m1".to_owned(),
            description: String::new(),
        }],
        features: Vec::new(),
        assertions: task.assertions.clone(),
        skills: Vec::new(),
        services: task.services.clone(),
        mcp_servers: Vec::new(),
        scripted_fixes: Vec::new(),
    }
}
