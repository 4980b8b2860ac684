//! Paths the model names, checked to stay inside the workspace.

use std::path::{Component, Path, PathBuf};

/// Whether a path is for reading, or for writing (which `.git` refuses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

/// The real path of `requested` (relative to the workspace, or absolute inside it), or
/// why it is refused: it leaves the workspace, by `..`, by an absolute path, or through a
/// symbolic link; or it writes inside `.git`.
pub(crate) fn resolve(
    workspace: &Path,
    requested: &str,
    access: Access,
) -> Result<PathBuf, String> {
    let requested = requested.trim();
    if requested.is_empty() {
        return Err("the path is empty".to_owned());
    }
    let path = Path::new(requested);
    let relative = if path.is_absolute() {
        path.strip_prefix(workspace).map_err(|_| {
            format!("{requested} is outside the workspace; use a path relative to its root")
        })?
    } else {
        path
    };
    let mut normal = PathBuf::new();
    for component in relative.components() {
        match component {
            Component::Normal(part) => normal.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if !normal.pop() {
                    return Err(format!("{requested} leaves the workspace"));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("{requested} is not a path inside the workspace"));
            }
        }
    }
    if access == Access::Write
        && normal
            .components()
            .next()
            .is_some_and(|first| first.as_os_str() == ".git")
    {
        return Err(format!(
            "{requested} is inside .git, which tools do not write"
        ));
    }
    let full = workspace.join(&normal);
    // A symbolic link inside the workspace may point out of it: check where the deepest
    // part of the path that exists really is.
    let mut existing = full.as_path();
    while !existing.exists() {
        match existing.parent() {
            Some(parent) => existing = parent,
            None => break,
        }
    }
    let real = existing
        .canonicalize()
        .map_err(|error| format!("{requested}: {error}"))?;
    if !real.starts_with(workspace) {
        return Err(format!(
            "{requested} leads outside the workspace through a symbolic link"
        ));
    }
    Ok(full)
}

/// `path` relative to the workspace, with `/` separators, for the model to read.
pub(crate) fn display(workspace: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(workspace).unwrap_or(path);
    let text = relative.to_string_lossy().replace('\\', "/");
    if text.is_empty() {
        ".".to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().canonicalize().expect("canonical");
        std::fs::create_dir_all(real.join("src")).expect("src");
        (dir, real)
    }

    #[test]
    fn paths_inside_are_resolved() {
        let (_dir, root) = workspace();
        for (requested, expected) in [
            ("src/lib.rs", "src/lib.rs"),
            ("./src/../README.md", "README.md"),
            ("new/dir/file.txt", "new/dir/file.txt"),
        ] {
            let path = resolve(&root, requested, Access::Write).expect(requested);
            assert_eq!(path, root.join(expected));
        }
        let absolute = root.join("src/main.rs");
        assert_eq!(
            resolve(&root, absolute.to_str().unwrap(), Access::Read).unwrap(),
            absolute
        );
        assert_eq!(resolve(&root, ".", Access::Read).unwrap(), root);
    }

    #[test]
    fn paths_that_leave_are_refused() {
        let (_dir, root) = workspace();
        for requested in ["../x", "src/../../x", "/etc/passwd", ""] {
            assert!(
                resolve(&root, requested, Access::Read).is_err(),
                "{requested} was allowed"
            );
        }
        assert!(resolve(&root, ".git/config", Access::Write).is_err());
        assert!(resolve(&root, ".git/config", Access::Read).is_ok());
    }

    #[test]
    fn a_symbolic_link_out_of_the_workspace_is_refused() {
        let (_dir, root) = workspace();
        let outside = tempfile::tempdir().expect("outside");
        std::os::unix::fs::symlink(outside.path(), root.join("escape")).expect("symlink");
        let error = resolve(&root, "escape/secret.txt", Access::Write).unwrap_err();
        assert!(error.contains("symbolic link"), "{error}");
    }
}
