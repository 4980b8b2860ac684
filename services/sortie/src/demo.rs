//! `sortie demo`: run the example mission from start to end on this machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use sortie_git::GitConfig;
use sortie_model::api::SubmitMission;

/// Where the example project and its mission live.
#[derive(Clone, Debug)]
pub struct Example {
    /// The project's starting files.
    pub project: PathBuf,
    pub mission: PathBuf,
    /// The mission's repository name, which the demo points at a fresh repository.
    pub repository: String,
}

impl Example {
    /// The notes service example, from an `examples/` directory.
    pub fn notes_service(examples: &Path) -> Self {
        Self {
            project: examples.join("notes-service"),
            mission: examples.join("missions/notes-service.toml"),
            repository: "notes".to_owned(),
        }
    }
}

/// The `examples/` directory: the one given, or `./examples`, or the source tree's.
pub fn find_examples(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let candidates: Vec<PathBuf> = match given {
        Some(path) => vec![path.to_path_buf()],
        None => vec![
            PathBuf::from("examples"),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples"),
        ],
    };
    candidates
        .into_iter()
        .find(|candidate| candidate.join("missions").is_dir())
        .context(
            "no examples directory found; run from Sortie's source tree or pass --examples DIR",
        )
}

/// Make a new bare repository holding the example project, and the request that runs the
/// example mission against it.
pub async fn prepare(example: &Example, work_dir: &Path) -> anyhow::Result<SubmitMission> {
    let repository = work_dir.join(format!("{}.git", example.repository));
    sortie_git::seed_bare_repository(
        &GitConfig::default(),
        &example.project,
        &repository,
        "main",
        "Start of the example project",
    )
    .await
    .with_context(|| format!("creating the example repository {}", repository.display()))?;
    let mission_file = tokio::fs::read_to_string(&example.mission)
        .await
        .with_context(|| format!("reading {}", example.mission.display()))?;
    let repository = std::path::absolute(&repository).context("the repository's path")?;
    Ok(SubmitMission {
        mission_file,
        file_name: example.mission.display().to_string(),
        repositories: BTreeMap::from([(
            example.repository.clone(),
            repository.display().to_string(),
        )]),
        tenant: None,
        team: None,
        submitted_by: Some(whoami()),
        launch: true,
        approve: true,
    })
}

pub fn whoami() -> String {
    std::env::var("USER")
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "demo".to_owned())
}

/// How long the demo waits for the mission before it gives up.
pub const DEMO_LIMIT: Duration = Duration::from_secs(600);
