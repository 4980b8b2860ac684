use sortie_settings::{AgentKind, Origin, SettingsError, SettingsSources};

use crate::TempSettingsFile;

#[test]
fn profiles_load_from_the_file_and_the_environment() {
    let file = TempSettingsFile::new(
        "[agents.claude]\n\
         kind = \"claude-code\"\n\
         command = \"/opt/claude/bin/claude\"\n\
         max_turns = 12\n\
         max_budget_usd = 2.5\n\
         args = [\"--effort\", \"high\"]\n\
         [agents.claude.env]\n\
         HTTPS_PROXY = \"http://proxy:3128\"\n\
         [agents.local]\n\
         kind = \"llm\"\n\
         protocol = \"openai_chat\"\n\
         base_url = \"http://127.0.0.1:8000/v1\"\n\
         model = \"qwen\"\n\
         prices = { input_per_million = 0.5, output_per_million = 1.5 }\n",
    );
    let settings = SettingsSources::new()
        .file(file.path())
        .environment([
            ("SORTIE__AGENTS__CODEX__KIND", "codex"),
            ("SORTIE__AGENTS__CODEX__API_KEY", "sk-secret"),
        ])
        .load()
        .expect("the profiles load");
    let claude = &settings.agents["claude"];
    assert_eq!(claude.kind, AgentKind::ClaudeCode);
    assert_eq!(claude.command.as_deref(), Some("/opt/claude/bin/claude"));
    assert_eq!(claude.max_turns, Some(12));
    assert_eq!(claude.max_budget_usd, Some(2.5));
    assert_eq!(claude.args, ["--effort", "high"]);
    assert_eq!(claude.env["HTTPS_PROXY"], "http://proxy:3128");
    let local = &settings.agents["local"];
    assert_eq!(local.kind, AgentKind::Llm);
    assert_eq!(
        local.prices.map(|prices| prices.output_per_million),
        Some(1.5)
    );
    let codex = &settings.agents["codex"];
    assert_eq!(codex.kind, AgentKind::Codex);
    assert_eq!(
        codex.api_key.as_ref().map(|key| key.expose_secret()),
        Some("sk-secret")
    );
    assert!(!format!("{settings:?}").contains("sk-secret"));
}

#[test]
fn a_misspelt_profile_field_is_refused_with_its_name_and_place() {
    let file = TempSettingsFile::new("[agents.claude]\nkind = \"claude-code\"\nmax_turn = 3\n");
    let error = SettingsSources::new()
        .file(file.path())
        .load()
        .expect_err("an unknown field is refused");
    let message = error.to_string();
    assert!(message.contains("max_turn"), "{message}");
    assert!(message.contains("agents.claude"), "{message}");
}

#[test]
fn an_unknown_kind_names_the_kinds() {
    let error = SettingsSources::new()
        .environment([("SORTIE__AGENTS__MINE__KIND", "gpt")])
        .load()
        .expect_err("an unknown kind is refused");
    let SettingsError::Invalid { key, origin, .. } = &error else {
        panic!("expected an invalid value, got {error}");
    };
    assert_eq!(key, "agents.mine.kind");
    assert_eq!(
        origin,
        &Origin::Environment("SORTIE__AGENTS__MINE__KIND".to_owned())
    );
    let message = error.to_string();
    assert!(
        message.contains("claude-code") && message.contains("codex"),
        "{message}"
    );
}
