//! `sortie plan`: from a goal to a mission file, with the planner and a model profile;
//! with `--yes` the first valid plan, otherwise a conversation (`conversation.rs`).

mod conversation;

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sortie_agents::llm::{ChatModel, LlmConfig};
use sortie_model::plan::Plan;
use sortie_planner::{CostEstimate, EstimateInputs, PlanError, Proposal};
use sortie_settings::{AgentKind, SettingsSources};

use crate::{exit, usage_line};

pub use conversation::{Conversation, converse};

/// What `sortie plan` was asked.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// The goal, in Markdown or plain text.
    pub goal_file: PathBuf,
    /// The repository the mission changes.
    pub repository: PathBuf,
    /// Where the mission file is written.
    pub output: PathBuf,
    /// The `agents.<name>` profile the planner talks to; it must be of kind `llm`.
    pub agent: String,
    /// A settings file, beside the `SORTIE__...` environment.
    pub settings_file: Option<PathBuf>,
    /// Take the model's first valid plan without questions or a conversation.
    pub yes: bool,
    /// Overwrite the output file.
    pub force: bool,
}

/// Runs `sortie plan` and returns its exit code.
pub async fn plan(options: &PlanOptions) -> anyhow::Result<i32> {
    if options.output.exists() && !options.force {
        eprintln!(
            "sortie: {} exists; pass --force to overwrite it, or -o to write elsewhere",
            options.output.display()
        );
        return Ok(exit::BAD_INPUT);
    }
    let goal = match tokio::fs::read_to_string(&options.goal_file).await {
        Ok(goal) if !goal.trim().is_empty() => goal,
        Ok(_) => {
            eprintln!("sortie: the goal {} is empty", options.goal_file.display());
            return Ok(exit::BAD_INPUT);
        }
        Err(error) => {
            eprintln!("sortie: reading {}: {error}", options.goal_file.display());
            return Ok(exit::BAD_INPUT);
        }
    };
    let model = match chat_model(options) {
        Ok(model) => model,
        Err(error) => {
            eprintln!("sortie: {error:#}");
            return Ok(exit::BAD_INPUT);
        }
    };
    let repository = options.repository.clone();
    let survey = tokio::task::spawn_blocking(move || sortie_planner::survey(&repository))
        .await
        .context("surveying the repository")?;
    let survey = match survey {
        Ok(survey) => survey,
        Err(error) => {
            eprintln!(
                "sortie: reading the repository {}: {error}",
                options.repository.display()
            );
            return Ok(exit::BAD_INPUT);
        }
    };
    eprintln!(
        "planning with agents.{} (model {}): {} paths, {} build files, {} skills surveyed",
        options.agent,
        model.config().model,
        survey.tree.len(),
        survey.build_files.len(),
        survey.skills.len()
    );
    if !options.yes {
        let conversation = Conversation {
            goal: &goal,
            survey: &survey,
            model: &model,
            output: &options.output,
            force: options.force,
        };
        let terminal = io::BufReader::new(io::stdin());
        return converse(&conversation, terminal, io::stdout()).await;
    }
    let proposal = match sortie_planner::propose(&goal, &survey, &[], &model).await {
        Ok(proposal) => proposal,
        Err(error @ PlanError::NoValidPlan { .. }) => {
            eprintln!("sortie: {error}");
            return Ok(exit::FAILED);
        }
        Err(PlanError::Model(error)) => {
            eprintln!("sortie: {error}");
            return Ok(exit::UNAVAILABLE);
        }
    };
    write_mission(&options.output, options.force, &proposal)
        .await
        .with_context(|| format!("writing {}", options.output.display()))?;
    for warning in proposal.warnings.iter() {
        eprintln!("{warning}");
    }
    for finding in &proposal.lint {
        eprintln!("{finding}");
    }
    print!("{}", outline(&proposal.plan));
    println!("{}", cost_estimate(&proposal.plan, &model));
    println!(
        "wrote {} after {} {}; {}",
        options.output.display(),
        proposal.tries,
        if proposal.tries == 1 { "try" } else { "tries" },
        usage_line(&proposal.usage)
    );
    Ok(exit::COMPLETED)
}

/// Writes the proposal's mission file at `path`, never over an existing file unless
/// `force`: an existing one is an `AlreadyExists` error.
async fn write_mission(path: &Path, force: bool, proposal: &Proposal) -> io::Result<()> {
    let path = path.to_owned();
    let mission_toml = proposal.mission_toml.clone();
    let written = tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true);
        if force {
            options.create(true).truncate(true);
        } else {
            options.create_new(true);
        }
        let mut file = options.open(&path)?;
        file.write_all(mission_toml.as_bytes())?;
        file.sync_all()
    });
    written.await.map_err(io::Error::other)?
}

/// The chat model of the profile `agents.<name>`, which must be of kind `llm`.
fn chat_model(options: &PlanOptions) -> anyhow::Result<ChatModel> {
    let mut sources = SettingsSources::new();
    if let Some(file) = &options.settings_file {
        sources = sources.file(file);
    }
    let settings = sources.process_environment().load()?;
    let name = &options.agent;
    let profile = settings.agents.get(name).with_context(|| {
        format!(
            "agents.{name} is not configured; the planner needs a profile of kind llm \
             (kind, base_url, model) in the settings"
        )
    })?;
    if profile.kind != AgentKind::Llm {
        anyhow::bail!(
            "agents.{name} is of kind {}; the planner needs a profile of kind llm",
            profile.kind.name()
        );
    }
    let config = LlmConfig::from_profile(name, profile)?;
    Ok(ChatModel::new(config)?)
}

/// What running the plan may cost, priced at the planning profile's model.
pub fn cost_estimate(plan: &Plan, model: &ChatModel) -> CostEstimate {
    let config = model.config();
    let inputs = EstimateInputs {
        model: config.model.clone(),
        prices: config.prices,
    };
    sortie_planner::estimate(plan, &inputs)
}

/// The plan as an outline: its milestones and their features, then the assertions.
pub fn outline(plan: &Plan) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "{}: {}", plan.mission.name, plan.mission.goal);
    for milestone in &plan.milestones {
        let _ = writeln!(text, "  {} {}", milestone.id.as_str(), milestone.title);
        for feature in plan
            .features
            .iter()
            .filter(|feature| feature.milestone == milestone.id)
        {
            let _ = write!(text, "    {} {}", feature.id.as_str(), feature.title);
            if !feature.preconditions.is_empty() {
                let after: Vec<&str> = feature.preconditions.iter().map(|id| id.as_str()).collect();
                let _ = write!(text, " (after {})", after.join(", "));
            }
            text.push('\n');
        }
    }
    let _ = writeln!(text, "  {} assertions", plan.assertions.len());
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outline_lists_milestones_with_their_features() {
        let text = r#"
[mission]
name = "notes"
goal = "Notes with tags"
[[repositories]]
name = "app"
url = "/srv/app"
[[milestones]]
id = "m1"
title = "Storage"
[[milestones]]
id = "m2"
title = "Tags"
[[features]]
id = "F-STORE"
title = "Store notes"
milestone = "m1"
fulfills = ["VAL-NOTES-001"]
[[features]]
id = "F-TAGS"
title = "Tag notes"
milestone = "m2"
preconditions = ["F-STORE"]
fulfills = ["VAL-NOTES-001"]
[[assertions]]
id = "VAL-NOTES-001"
statement = "The tests pass"
check = { kind = "command", run = "make test" }
"#;
        let plan = sortie_model::mission_file::parse("m.toml", text)
            .expect("valid")
            .plan;
        assert_eq!(
            outline(&plan),
            "notes: Notes with tags\n  m1 Storage\n    F-STORE Store notes\n  m2 Tags\n    \
             F-TAGS Tag notes (after F-STORE)\n  1 assertions\n"
        );
    }
}
