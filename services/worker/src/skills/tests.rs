use sortie_git::{GitConfig, RepoCache, Workspace};
use sortie_test_support::{BareRepo, GitFixture};
use tempfile::TempDir;

use super::*;

const BACKEND_SKILL: &str = "---\n\
    name: backend\n\
    description: Work on the HTTP API\n\
    allowed-tools: Read, Bash\n\
    ---\n\
    # Backend\n\
    \n\
    Run `cargo test -p api` before you finish.\n";

/// A worker's workspace, prepared from a remote whose `main` holds `files`.
struct Checkout {
    _remote: BareRepo,
    _scratch: TempDir,
    workspace: Workspace,
}

impl Checkout {
    async fn of(files: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut fixture = GitFixture::new()?;
        fixture.file("README.md", "# project\n")?;
        for (path, content) in files {
            fixture.file(path, content)?;
        }
        Self::from_fixture(fixture).await
    }

    async fn from_fixture(mut fixture: GitFixture) -> anyhow::Result<Self> {
        fixture.commit("Initial commit")?;
        let remote = fixture.into_bare()?;
        let scratch = tempfile::tempdir()?;
        let cache = RepoCache::new(scratch.path().join("mirrors"), GitConfig::default());
        let workspace = Workspace::prepare(
            &cache,
            &remote.url,
            scratch.path().join("workspace"),
            "main",
            "sortie/work/a1",
        )
        .await?;
        Ok(Self {
            _remote: remote,
            _scratch: scratch,
            workspace,
        })
    }

    fn dir(&self) -> &Path {
        self.workspace.dir()
    }
}

fn feature_naming(skill: Option<&str>) -> Feature {
    serde_json::from_value(serde_json::json!({
        "id": "F-API",
        "title": "the API",
        "milestone": "M1",
        "repository": "app",
        "skill": skill,
    }))
    .expect("a feature")
}

#[tokio::test]
async fn a_feature_gets_the_repository_skill_it_names() -> anyhow::Result<()> {
    let checkout = Checkout::of(&[(".claude/skills/backend/SKILL.md", BACKEND_SKILL)]).await?;

    let skill = skill_for_feature(&feature_naming(Some("backend")), None, checkout.dir())
        .await?
        .expect("a skill");

    assert_eq!(skill.name, "backend");
    assert_eq!(skill.description, "Work on the HTTP API");
    assert_eq!(
        skill.instructions,
        "# Backend\n\nRun `cargo test -p api` before you finish."
    );
    Ok(())
}

#[tokio::test]
async fn the_plan_skill_wins_and_no_skill_is_none() -> anyhow::Result<()> {
    let checkout = Checkout::of(&[(".claude/skills/backend/SKILL.md", BACKEND_SKILL)]).await?;
    let planned = SkillDefinition {
        name: "backend".to_owned(),
        description: "the plan's".to_owned(),
        instructions: "Follow the plan.".to_owned(),
    };

    let skill = skill_for_feature(
        &feature_naming(Some("backend")),
        Some(&planned),
        checkout.dir(),
    )
    .await?;
    assert_eq!(skill, Some(planned));

    let none = skill_for_feature(&feature_naming(None), None, checkout.dir()).await?;
    assert_eq!(none, None);
    Ok(())
}

#[tokio::test]
async fn sortie_skills_come_before_claude_and_factory_skills() -> anyhow::Result<()> {
    let skill_saying = |words: &str| format!("---\nname: backend\ndescription: x\n---\n{words}\n");
    let checkout = Checkout::of(&[
        (".factory/skills/backend/SKILL.md", &skill_saying("factory")),
        (".claude/skills/backend/SKILL.md", &skill_saying("claude")),
        (".sortie/skills/backend/SKILL.md", &skill_saying("sortie")),
        (
            ".factory/skills/only-factory/SKILL.md",
            "---\nname: only-factory\ndescription: x\n---\nfactory\n",
        ),
    ])
    .await?;

    let backend = find_repository_skill(checkout.dir(), "backend").await?;
    assert_eq!(backend.instructions, "sortie");
    let only_factory = find_repository_skill(checkout.dir(), "only-factory").await?;
    assert_eq!(only_factory.instructions, "factory");
    Ok(())
}

#[tokio::test]
async fn a_skill_found_nowhere_names_itself_and_the_places_looked_in() -> anyhow::Result<()> {
    let checkout = Checkout::of(&[]).await?;

    let error = skill_for_feature(&feature_naming(Some("backend")), None, checkout.dir())
        .await
        .unwrap_err();

    assert!(
        matches!(error, SkillLookupError::NotFound { .. }),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "the feature names skill \"backend\", which the plan does not define and the repository \
         does not hold (looked in .sortie/skills/backend/SKILL.md, \
         .claude/skills/backend/SKILL.md, .factory/skills/backend/SKILL.md)"
    );
    Ok(())
}

#[tokio::test]
async fn a_broken_skill_is_an_error_and_does_not_fall_through() -> anyhow::Result<()> {
    let checkout = Checkout::of(&[
        (
            ".sortie/skills/backend/SKILL.md",
            "---\nname: backend\n---\nGo.\n",
        ),
        (".claude/skills/backend/SKILL.md", BACKEND_SKILL),
    ])
    .await?;

    let error = find_repository_skill(checkout.dir(), "backend")
        .await
        .unwrap_err();

    assert_eq!(
        error.to_string(),
        "the repository's skill cannot be used: .sortie/skills/backend/SKILL.md:3: the front \
         matter has no `description`"
    );
    Ok(())
}

#[tokio::test]
async fn names_that_are_not_skill_names_are_never_turned_into_paths() -> anyhow::Result<()> {
    let checkout = Checkout::of(&[(".claude/skills/backend/SKILL.md", BACKEND_SKILL)]).await?;
    for name in ["../skills/backend", "Backend", "back end"] {
        let error = find_repository_skill(checkout.dir(), name)
            .await
            .unwrap_err();
        assert!(
            matches!(error, SkillLookupError::BadName { .. }),
            "{name}: {error}"
        );
    }
    Ok(())
}

#[cfg(unix)]
#[tokio::test]
async fn a_skill_linked_to_a_file_outside_the_repository_is_refused() -> anyhow::Result<()> {
    let outside = tempfile::tempdir()?;
    std::fs::write(outside.path().join("secret.md"), BACKEND_SKILL)?;
    let mut fixture = GitFixture::new()?;
    fixture.file("README.md", "# project\n")?;
    let folder = fixture.path().join(".claude/skills/backend");
    std::fs::create_dir_all(&folder)?;
    std::os::unix::fs::symlink(outside.path().join("secret.md"), folder.join("SKILL.md"))?;
    let checkout = Checkout::from_fixture(fixture).await?;

    let error = find_repository_skill(checkout.dir(), "backend")
        .await
        .unwrap_err();

    assert!(
        error.to_string().contains("outside the repository"),
        "{error}"
    );
    Ok(())
}
