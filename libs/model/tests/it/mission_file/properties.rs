//! `parse` never panics, whatever it is handed, and its diagnostics always point inside
//! the text.

use proptest::prelude::*;
use sortie_model::mission_file;

use super::{FILE, workspace_root};

fn example() -> String {
    std::fs::read_to_string(workspace_root().join("examples/missions/todo-service.toml"))
        .expect("the example mission exists")
}

/// One edit to a text, applied at char boundaries.
#[derive(Clone, Debug)]
enum Mutation {
    Delete { at: usize, length: usize },
    Insert { at: usize, text: String },
    DuplicateLine { line: usize },
    SwapLines { first: usize, second: usize },
    DeleteLine { line: usize },
    Truncate { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, length)| Mutation::Delete { at, length }),
        (any::<usize>(), "[\\[\\]{}=\",.#\\n a-zA-Z0-9_-]{1,12}")
            .prop_map(|(at, text)| Mutation::Insert { at, text }),
        (any::<usize>(), any::<String>()).prop_map(|(at, text)| Mutation::Insert { at, text }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), any::<usize>())
            .prop_map(|(first, second)| Mutation::SwapLines { first, second }),
        any::<usize>().prop_map(|line| Mutation::DeleteLine { line }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn boundary(text: &str, at: usize) -> usize {
    let mut offset = at % (text.len() + 1);
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    match mutation {
        Mutation::Delete { at, length } => {
            let start = boundary(text, *at);
            let end = boundary(text, (start + length).min(text.len()));
            format!("{}{}", &text[..start], &text[end.max(start)..])
        }
        Mutation::Insert { at, text: inserted } => {
            let at = boundary(text, *at);
            format!("{}{inserted}{}", &text[..at], &text[at..])
        }
        Mutation::DuplicateLine { line } if !lines.is_empty() => {
            let index = line % lines.len();
            lines.insert(index, lines[index]);
            lines.concat()
        }
        Mutation::SwapLines { first, second } if !lines.is_empty() => {
            let count = lines.len();
            lines.swap(first % count, second % count);
            lines.concat()
        }
        Mutation::DeleteLine { line } if !lines.is_empty() => {
            let index = line % lines.len();
            lines.remove(index);
            lines.concat()
        }
        Mutation::Truncate { at } => text[..boundary(text, *at)].to_owned(),
        _ => text.to_owned(),
    }
}

fn check_invariants(text: &str) {
    let line_count = text.lines().count().max(1) + 1;
    match mission_file::parse(FILE, text) {
        Ok(parsed) => {
            assert!(!parsed.plan.milestones.is_empty());
            assert!(!parsed.plan.features.is_empty());
            assert!(!parsed.warnings.has_errors());
        }
        Err(diagnostics) => {
            assert!(diagnostics.has_errors());
            for diagnostic in &diagnostics {
                assert!(
                    diagnostic.line >= 1 && diagnostic.line <= line_count,
                    "{diagnostic}"
                );
                assert!(diagnostic.column >= 1, "{diagnostic}");
                assert!(diagnostic.span.start <= text.len(), "{diagnostic}");
                assert!(!diagnostic.to_string().contains('\n'), "{diagnostic}");
            }
        }
    }
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_text(text in any::<String>()) {
        check_invariants(&text);
    }

    #[test]
    fn parse_never_panics_on_toml_like_text(
        text in "(\\[{1,2}[a-z.]{0,12}\\]{1,2}\\n|[a-z_]{1,12} = (\"[^\"\\n]{0,10}\"|[0-9-]{1,4}|\\[[\"a-zA-Z0-9, -]{0,20}\\]|\\{[a-z =\",]{0,30}\\}|true)\\n|#.*\\n|\\n){0,30}"
    ) {
        check_invariants(&text);
    }

    #[test]
    fn parse_never_panics_on_mutations_of_the_example(
        mutations in proptest::collection::vec(mutation(), 1..6)
    ) {
        let mut text = example();
        for mutation in &mutations {
            text = apply(&text, mutation);
        }
        check_invariants(&text);
    }
}
