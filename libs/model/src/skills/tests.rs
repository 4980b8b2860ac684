use proptest::prelude::*;

use super::*;

const PATH: &str = ".claude/skills/backend/SKILL.md";

fn parse(text: &str) -> Result<SkillDefinition, SkillError> {
    parse_skill_md(Path::new(PATH), text)
}

fn problem(text: &str) -> (usize, SkillProblem) {
    let error = parse(text).expect_err("the skill should be refused");
    assert_eq!(error.path, PATH);
    (error.line, error.problem)
}

#[test]
fn a_skill_gives_its_name_description_and_instructions() {
    let skill = parse(
        "---\nname: backend\ndescription: Work on the HTTP API.\n---\n\n# Backend\n\nRun `cargo test`.\n",
    )
    .unwrap();
    assert_eq!(
        skill,
        SkillDefinition {
            name: "backend".to_owned(),
            description: "Work on the HTTP API.".to_owned(),
            instructions: "# Backend\n\nRun `cargo test`.".to_owned(),
        }
    );
}

#[test]
fn other_keys_and_the_lines_under_them_are_skipped() {
    let text = "\u{feff}---\r\n\
        # a comment\r\n\
        license: Apache-2.0\r\n\
        allowed-tools:\r\n\
        - Read\r\n\
        - Bash(git:*)\r\n\
        metadata:\r\n\
        \x20 name: not-this-one\r\n\
        \x20 nested:\r\n\
        \x20   description: nor this\r\n\
        name: backend # the folder's name\r\n\
        \r\n\
        description: Work on the API\r\n\
        ---\r\n\
        Do the work.\r\n";
    let skill = parse(text).unwrap();
    assert_eq!(skill.name, "backend");
    assert_eq!(skill.description, "Work on the API");
    assert_eq!(skill.instructions, "Do the work.");
}

#[test]
fn quoted_values_are_unquoted() {
    let skill = parse(
        "---\nname: \"backend\"\ndescription: 'It''s for \"the\" API: all of it' # why\n---\nGo.\n",
    )
    .unwrap();
    assert_eq!(skill.name, "backend");
    assert_eq!(skill.description, "It's for \"the\" API: all of it");

    let escaped =
        parse("---\nname: backend\ndescription: \"a \\\"b\\\"\\tc\\\\\"\n---\nGo.\n").unwrap();
    assert_eq!(escaped.description, "a \"b\"\tc\\");
}

#[test]
fn values_may_go_on_over_indented_lines_and_blocks() {
    let plain =
        parse("---\nname: backend\ndescription: Work on\n  the API\n  # not text\n  and its tests\n---\nGo.\n")
            .unwrap();
    assert_eq!(plain.description, "Work on the API and its tests");

    let folded = parse(
        "---\nname: backend\ndescription: >-\n  Work on\n  the API.\n\n  Not the UI.\n---\nGo.\n",
    )
    .unwrap();
    assert_eq!(folded.description, "Work on the API.\nNot the UI.");

    let literal =
        parse("---\nname: backend\ndescription: |\n  line one\n    line two\n---\nGo.\n").unwrap();
    assert_eq!(literal.description, "line one\n  line two");

    let next_line =
        parse("---\nname: backend\ndescription:\n  Work on the API\n---\nGo.\n").unwrap();
    assert_eq!(next_line.description, "Work on the API");
}

#[test]
fn a_file_without_front_matter_is_refused_at_line_one() {
    assert_eq!(
        problem("# Backend\n"),
        (1, SkillProblem::MissingFrontMatter)
    );
    assert_eq!(problem(""), (1, SkillProblem::MissingFrontMatter));
    assert_eq!(
        problem("---\nname: backend\ndescription: x\n"),
        (1, SkillProblem::UnclosedFrontMatter)
    );
}

#[test]
fn missing_or_empty_keys_are_refused() {
    assert_eq!(
        problem("---\ndescription: x\n---\nGo.\n"),
        (3, SkillProblem::MissingKey("name"))
    );
    assert_eq!(
        problem("---\nname: backend\nlicense: MIT\n---\nGo.\n"),
        (4, SkillProblem::MissingKey("description"))
    );
    assert_eq!(
        problem("---\nname: backend\ndescription: \"\"\n---\nGo.\n"),
        (3, SkillProblem::EmptyValue("description"))
    );
    assert_eq!(
        problem("---\nname:\ndescription: x\n---\nGo.\n"),
        (2, SkillProblem::EmptyValue("name"))
    );
}

#[test]
fn names_must_be_lower_case_words_with_hyphens_and_match_the_folder() {
    for (name, reason) in [
        ("Backend", "contains 'B'"),
        ("back_end", "contains '_'"),
        ("-backend", "start or end"),
        ("back--end", "\"--\""),
    ] {
        let (line, found) = problem(&format!("---\nname: {name}\ndescription: x\n---\nGo.\n"));
        assert_eq!(line, 2);
        let SkillProblem::InvalidName { reason: why, .. } = found else {
            panic!("{name}: {found:?}");
        };
        assert!(why.contains(reason), "{name}: {why}");
    }
    assert_eq!(
        problem("---\nname: frontend\ndescription: x\n---\nGo.\n"),
        (
            2,
            SkillProblem::NameIsNotFolder {
                name: "frontend".to_owned(),
                folder: "backend".to_owned(),
            }
        )
    );
    // Without a folder in the path there is nothing to compare.
    assert!(
        parse_skill_md(
            Path::new("SKILL.md"),
            "---\nname: any\ndescription: x\n---\nGo.\n"
        )
        .is_ok()
    );
    assert!(check_repository_skill_name(&"a".repeat(MAX_SKILL_NAME_CHARS)).is_ok());
    assert!(check_repository_skill_name(&"a".repeat(MAX_SKILL_NAME_CHARS + 1)).is_err());
    assert!(check_repository_skill_name("../etc").is_err());
}

#[test]
fn malformed_front_matter_is_refused_at_its_line() {
    assert_eq!(
        problem("---\nname: backend\njust words\n---\nGo.\n"),
        (3, SkillProblem::NotKeyValue("just words".to_owned()))
    );
    assert_eq!(
        problem("---\n  name: backend\n---\nGo.\n"),
        (2, SkillProblem::IndentedWithoutKey)
    );
    assert_eq!(
        problem("---\nname: backend\ndescription: x\nname: backend\n---\nGo.\n"),
        (
            4,
            SkillProblem::DuplicateKey {
                key: "name".to_owned(),
                first_line: 2,
            }
        )
    );
    for (text, line, reason) in [
        (
            "---\nname: backend\ndescription: \"open\n---\nGo.\n",
            3,
            "end on its own line",
        ),
        (
            "---\nname: backend\ndescription: 'x' y\n---\nGo.\n",
            3,
            "after its closing quote",
        ),
        (
            "---\nname: backend\ndescription: \"\\q\"\n---\nGo.\n",
            3,
            "escape",
        ),
        (
            "---\nname: backend\ndescription: \"x\"\n  more\n---\nGo.\n",
            4,
            "end on its own line",
        ),
        (
            "---\nname: backend\ndescription: [a, b]\n---\nGo.\n",
            3,
            "not a list",
        ),
        (
            "---\nname: backend\ndescription:\n- a\n---\nGo.\n",
            4,
            "not a list",
        ),
        (
            "---\nname: backend\ndescription: |2\n  x\n---\nGo.\n",
            3,
            "block indicator",
        ),
    ] {
        let (found_line, found) = problem(text);
        assert_eq!(found_line, line, "{text:?}");
        let SkillProblem::BadValue { key, reason: why } = found else {
            panic!("{text:?}: {found:?}");
        };
        assert_eq!(key, "description");
        assert!(why.contains(reason), "{text:?}: {why}");
    }
}

#[test]
fn a_skill_without_instructions_is_refused() {
    assert_eq!(
        problem("---\nname: backend\ndescription: x\n---\n\n  \n"),
        (4, SkillProblem::NoInstructions)
    );
}

#[test]
fn errors_name_the_file_and_line() {
    let error = parse("---\nname: backend\n---\nGo.\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        ".claude/skills/backend/SKILL.md:3: the front matter has no `description`"
    );
}

#[test]
fn repository_skills_are_looked_up_sortie_first_then_claude_then_factory() {
    assert_eq!(
        repository_skill_paths("backend"),
        [
            ".sortie/skills/backend/SKILL.md",
            ".claude/skills/backend/SKILL.md",
            ".factory/skills/backend/SKILL.md",
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_text_is_read_or_refused_without_panicking(
        lines in proptest::collection::vec("[ \\t]{0,2}[-a-z#:'\"|>\\\\ ]{0,12}", 0..8),
    ) {
        let text = format!("---\n{}\n---\nGo.\n", lines.join("\n"));
        let _ = parse(&text);
        let _ = parse(&lines.join("\n"));
    }
}
