//! The file tools: read, write, edit, list and search, inside the workspace only. They
//! block, so the toolbox runs them on tokio's blocking pool.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::paths::{Access, display, resolve};

/// The most lines `read_file` returns at once.
const READ_MAX_LINES: usize = 2_000;
/// The most characters `read_file` returns at once.
const READ_MAX_CHARS: usize = 100_000;
/// The most paths `list_files` returns.
const LIST_MAX_ENTRIES: usize = 1_000;
/// The most matching lines `search` returns, and how much of each line.
const SEARCH_MAX_MATCHES: usize = 200;
const SEARCH_LINE_CHARS: usize = 240;
/// Files larger than this are not searched.
const SEARCH_MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

#[derive(Debug, Deserialize)]
pub(crate) struct ReadArgs {
    path: String,
    /// The first line to return, from 1.
    #[serde(default)]
    start_line: Option<usize>,
    #[serde(default)]
    max_lines: Option<usize>,
}

pub(crate) fn read(workspace: &Path, args: &ReadArgs) -> Result<String, String> {
    let path = resolve(workspace, &args.path, Access::Read)?;
    let bytes = std::fs::read(&path).map_err(|error| format!("{}: {error}", args.path))?;
    if bytes.iter().take(8_192).any(|byte| *byte == 0) {
        return Err(format!(
            "{} is a binary file of {} bytes",
            args.path,
            bytes.len()
        ));
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let total = lines.len();
    let start = args.start_line.unwrap_or(1).max(1) - 1;
    if start >= total && total > 0 {
        return Err(format!("{} has only {total} lines", args.path));
    }
    let wanted = args
        .max_lines
        .unwrap_or(READ_MAX_LINES)
        .clamp(1, READ_MAX_LINES);
    let mut content = String::new();
    let mut end = start;
    for line in lines.iter().skip(start).take(wanted) {
        if content.len() + line.len() > READ_MAX_CHARS {
            break;
        }
        content.push_str(line);
        end += 1;
    }
    if start > 0 || end < total {
        content.push_str(&format!(
            "\n[lines {}-{end} of {total}; read more with start_line]",
            start + 1
        ));
    }
    Ok(content)
}

#[derive(Debug, Deserialize)]
pub(crate) struct WriteArgs {
    path: String,
    content: String,
}

pub(crate) fn write(workspace: &Path, args: &WriteArgs) -> Result<String, String> {
    let path = resolve(workspace, &args.path, Access::Write)?;
    if path.is_dir() {
        return Err(format!("{} is a directory", args.path));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| format!("creating the directory of {}: {error}", args.path))?;
    }
    std::fs::write(&path, &args.content).map_err(|error| format!("{}: {error}", args.path))?;
    Ok(format!(
        "wrote {} bytes to {}",
        args.content.len(),
        display(workspace, &path)
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct EditArgs {
    path: String,
    old_text: String,
    new_text: String,
}

/// Replace the one occurrence of `old_text`; refuse when it is absent or ambiguous.
pub(crate) fn edit(workspace: &Path, args: &EditArgs) -> Result<String, String> {
    let path = resolve(workspace, &args.path, Access::Write)?;
    if args.old_text.is_empty() {
        return Err("old_text is empty; use write_file to create a file".to_owned());
    }
    let text = std::fs::read_to_string(&path).map_err(|error| format!("{}: {error}", args.path))?;
    let count = text.matches(args.old_text.as_str()).count();
    match count {
        0 => Err(format!(
            "old_text was not found in {}; read the file and copy the text exactly",
            args.path
        )),
        1 => {
            let edited = text.replacen(args.old_text.as_str(), &args.new_text, 1);
            std::fs::write(&path, edited).map_err(|error| format!("{}: {error}", args.path))?;
            Ok(format!("edited {}", display(workspace, &path)))
        }
        many => Err(format!(
            "old_text occurs {many} times in {}; include more of the text around it so \
             that it occurs once",
            args.path
        )),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListArgs {
    #[serde(default)]
    path: Option<String>,
}

pub(crate) fn list(workspace: &Path, args: &ListArgs) -> Result<String, String> {
    let requested = args.path.as_deref().unwrap_or(".");
    let root = resolve(workspace, requested, Access::Read)?;
    if !root.is_dir() {
        return Err(format!("{requested} is not a directory"));
    }
    let mut files = Vec::new();
    walk(&root, &mut |path| files.push(display(workspace, path)));
    files.sort();
    let total = files.len();
    let mut listing = files
        .into_iter()
        .take(LIST_MAX_ENTRIES)
        .collect::<Vec<_>>()
        .join("\n");
    if total > LIST_MAX_ENTRIES {
        listing.push_str(&format!(
            "\n[{} more files; list a subdirectory]",
            total - LIST_MAX_ENTRIES
        ));
    }
    if total == 0 {
        listing = format!("{requested} has no files");
    }
    Ok(listing)
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchArgs {
    query: String,
    #[serde(default)]
    path: Option<String>,
}

/// Lines containing `query`, as `path:line: text`.
pub(crate) fn search(workspace: &Path, args: &SearchArgs) -> Result<String, String> {
    if args.query.is_empty() {
        return Err("the query is empty".to_owned());
    }
    let requested = args.path.as_deref().unwrap_or(".");
    let root = resolve(workspace, requested, Access::Read)?;
    let mut files = Vec::new();
    if root.is_file() {
        files.push(root);
    } else {
        walk(&root, &mut |path| files.push(path.to_path_buf()));
        files.sort();
    }
    let mut matches = Vec::new();
    let mut more = 0;
    for file in files {
        let small = std::fs::metadata(&file)
            .map(|metadata| metadata.len() <= SEARCH_MAX_FILE_BYTES)
            .unwrap_or(false);
        let Some(text) = small
            .then(|| std::fs::read(&file).ok())
            .flatten()
            .filter(|bytes| !bytes.iter().take(8_192).any(|byte| *byte == 0))
        else {
            continue;
        };
        let text = String::from_utf8_lossy(&text);
        for (number, line) in text.lines().enumerate() {
            if !line.contains(args.query.as_str()) {
                continue;
            }
            if matches.len() == SEARCH_MAX_MATCHES {
                more += 1;
                continue;
            }
            let shown: String = line.trim().chars().take(SEARCH_LINE_CHARS).collect();
            matches.push(format!(
                "{}:{}: {shown}",
                display(workspace, &file),
                number + 1
            ));
        }
    }
    if matches.is_empty() {
        return Ok(format!("no matches for {:?} in {requested}", args.query));
    }
    let mut found = matches.join("\n");
    if more > 0 {
        found.push_str(&format!("\n[{more} more matches; narrow the search]"));
    }
    Ok(found)
}

/// Every file under `dir`, skipping `.git` and not following symbolic links.
fn walk(dir: &Path, visit: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
    paths.sort();
    for path in paths {
        if path.file_name().is_some_and(|name| name == ".git") {
            continue;
        }
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            walk(&path, visit);
        } else if metadata.is_file() {
            visit(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical");
        std::fs::create_dir_all(root.join("src")).expect("src");
        std::fs::create_dir_all(root.join(".git")).expect(".git");
        std::fs::write(root.join("src/lib.rs"), "fn one() {}\nfn two() {}\n").expect("lib");
        std::fs::write(root.join(".git/HEAD"), "fn one() in git\n").expect("head");
        (dir, root)
    }

    #[test]
    fn read_returns_a_window_of_lines() {
        let (_dir, root) = workspace();
        let whole = read(
            &root,
            &ReadArgs {
                path: "src/lib.rs".to_owned(),
                start_line: None,
                max_lines: None,
            },
        )
        .unwrap();
        assert_eq!(whole, "fn one() {}\nfn two() {}\n");
        let second = read(
            &root,
            &ReadArgs {
                path: "src/lib.rs".to_owned(),
                start_line: Some(2),
                max_lines: Some(1),
            },
        )
        .unwrap();
        assert!(second.starts_with("fn two() {}\n"));
        assert!(second.contains("[lines 2-2 of 2"));
    }

    #[test]
    fn edit_refuses_absent_and_ambiguous_text() {
        let (_dir, root) = workspace();
        let edit_with = |old: &str| {
            edit(
                &root,
                &EditArgs {
                    path: "src/lib.rs".to_owned(),
                    old_text: old.to_owned(),
                    new_text: "fn three() {}".to_owned(),
                },
            )
        };
        assert!(edit_with("fn four").unwrap_err().contains("not found"));
        assert!(edit_with("fn ").unwrap_err().contains("occurs 2 times"));
        assert_eq!(edit_with("fn two() {}").unwrap(), "edited src/lib.rs");
        let text = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
        assert_eq!(text, "fn one() {}\nfn three() {}\n");
    }

    #[test]
    fn list_and_search_skip_git() {
        let (_dir, root) = workspace();
        write(
            &root,
            &WriteArgs {
                path: "docs/notes.md".to_owned(),
                content: "call one\n".to_owned(),
            },
        )
        .unwrap();
        let listing = list(&root, &ListArgs { path: None }).unwrap();
        assert_eq!(listing, "docs/notes.md\nsrc/lib.rs");
        let found = search(
            &root,
            &SearchArgs {
                query: "one".to_owned(),
                path: None,
            },
        )
        .unwrap();
        assert_eq!(
            found,
            "docs/notes.md:1: call one\nsrc/lib.rs:1: fn one() {}"
        );
    }
}
