//! A mission that changes two repositories: each feature integrates into its own
//! repository's integration branch, and the milestone is validated in each.

use std::collections::BTreeMap;
use std::time::Duration;

use sortie_cli::follow::follow;
use sortie_e2e::{Stage, exclusive, integration_branch};
use sortie_git::{GitConfig, seed_bare_repository};
use sortie_model::api::{AttemptSubject, SubmitMission};
use sortie_model::state::AttemptState;

use crate::checks;

const MISSION: &str = r#"
[mission]
name = "two-repositories"
goal = "change an API and its web client together"

[[repositories]]
name = "api"
url = "placeholder"

[[repositories]]
name = "web"
url = "placeholder"

[settings]
max_parallel_workers = 2

[[milestones]]
id = "m1"
title = "Both sides"

[[features]]
id = "F-API"
title = "the endpoint"
milestone = "m1"
repository = "api"
fulfills = ["VAL-API-001"]
touches = ["endpoint.txt"]

[[features.steps]]
write = "endpoint.txt"
content = "GET /v2/things\n"

[[features]]
id = "F-WEB"
title = "the client"
milestone = "m1"
repository = "web"
preconditions = ["F-API"]
fulfills = ["VAL-WEB-001"]
touches = ["client.txt"]

[[features.steps]]
write = "client.txt"
content = "calls GET /v2/things\n"

[[assertions]]
id = "VAL-API-001"
statement = "the API serves v2"
check = { kind = "command", run = "grep -q v2 endpoint.txt" }

[[assertions]]
id = "VAL-WEB-001"
statement = "the client calls v2"
check = { kind = "command", run = "grep -q v2 client.txt" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mission_across_two_repositories_integrates_and_validates_each() {
    let _one_at_a_time = exclusive().await;
    let stage = Stage::start(2, Vec::new()).await.expect("start Sortie");
    let mut repositories = BTreeMap::new();
    for name in ["api", "web"] {
        let source = stage.work.path().join(format!("{name}-source"));
        std::fs::create_dir_all(&source).expect("source");
        std::fs::write(source.join("README.md"), format!("# {name}\n")).expect("readme");
        let bare = stage.repository(name);
        seed_bare_repository(&GitConfig::default(), &source, &bare, "main", "start")
            .await
            .expect("seed");
        repositories.insert(name.to_owned(), bare.display().to_string());
    }
    let client = stage.client();
    let submitted = client
        .submit(&SubmitMission {
            mission_file: MISSION.to_owned(),
            file_name: "two-repositories.toml".to_owned(),
            repositories,
            tenant: Some("acme".to_owned()),
            team: Some("platform".to_owned()),
            submitted_by: Some("e2e".to_owned()),
            launch: true,
            approve: true,
        })
        .await
        .expect("submit");
    let followed = follow(
        &client,
        submitted.id,
        Duration::from_millis(200),
        Duration::from_secs(180),
        |line| {
            println!("{line}");
        },
    )
    .await
    .unwrap_or_else(|error| panic!("{error}\n{}", stage.logs()));
    let status = followed.status;
    assert_eq!(
        status.mission.state.as_str(),
        "completed",
        "{status:#?}\n{}",
        stage.logs()
    );
    checks::every_feature_accepted_once(&status);
    for (name, file) in [("api", "endpoint.txt"), ("web", "client.txt")] {
        let repository = stage.repository(name);
        let branch = integration_branch(&repository).expect("integration branch");
        checks::every_feature_integrated_once(&status, &repository, &branch);
        checks::integrated_attempt_branches_removed(&status, &repository);
        let shown =
            sortie_e2e::git(&repository, &["show", &format!("{branch}:{file}")]).expect("file");
        assert!(shown.contains("v2"), "{name}: {shown}");
        // The other repository's file never landed here.
        let other = if name == "api" {
            "client.txt"
        } else {
            "endpoint.txt"
        };
        assert!(sortie_e2e::git(&repository, &["show", &format!("{branch}:{other}")]).is_err());
    }
    let validated: Vec<String> = status
        .attempts
        .iter()
        .filter(|attempt| attempt.state == AttemptState::Succeeded)
        .filter_map(|attempt| match &attempt.subject {
            AttemptSubject::Validation { repository, .. } => Some(repository.to_string()),
            AttemptSubject::Feature { .. } => None,
        })
        .collect();
    assert_eq!(validated, vec!["api".to_owned(), "web".to_owned()]);
    stage.stop().await;
}
