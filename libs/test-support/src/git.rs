//! Fixture git repositories: build history in a working repository, then turn it into a
//! bare repository a test uses as its remote.
//!
//! Every command runs real git with a fixed identity and without the user's global or
//! system config, so tests see the same repositories on every machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use tempfile::TempDir;

const FIXTURE_NAME: &str = "Fixture Author";
const FIXTURE_EMAIL: &str = "fixture@localhost";

/// Runs `git <args>` in `cwd` with the fixture's isolated environment; returns stdout.
pub fn git(cwd: &Path, args: &[&str]) -> anyhow::Result<String> {
    git_with_env(cwd, args, &[])
}

fn git_with_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<String> {
    let mut command = Command::new("git");
    command
        .current_dir(cwd)
        .args(args)
        .stdin(Stdio::null())
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", FIXTURE_NAME)
        .env("GIT_AUTHOR_EMAIL", FIXTURE_EMAIL)
        .env("GIT_COMMITTER_NAME", FIXTURE_NAME)
        .env("GIT_COMMITTER_EMAIL", FIXTURE_EMAIL)
        .env("LC_ALL", "C");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command
        .output()
        .with_context(|| format!("running git {args:?}; is git installed?"))?;
    if !output.status.success() {
        bail!(
            "git {args:?} in {} failed with {}: {}",
            cwd.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8(output.stdout)?)
}

/// A working repository (on `main`) in a temporary directory, for building history.
#[derive(Debug)]
pub struct GitFixture {
    dir: TempDir,
    work: PathBuf,
}

impl GitFixture {
    pub fn new() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("sortie-git-fixture")
            .tempdir()?;
        let work = dir.path().join("work");
        std::fs::create_dir(&work)?;
        git(&work, &["init", "--quiet", "--initial-branch=main"])?;
        Ok(Self { dir, work })
    }

    /// The working repository.
    pub fn path(&self) -> &Path {
        &self.work
    }

    /// Writes `content` to `path` (relative to the repository root), creating directories.
    pub fn file(&mut self, path: &str, content: &str) -> anyhow::Result<&mut Self> {
        let full = self.work.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&full, content).with_context(|| format!("writing {}", full.display()))?;
        Ok(self)
    }

    pub fn remove(&mut self, path: &str) -> anyhow::Result<&mut Self> {
        std::fs::remove_file(self.work.join(path))?;
        Ok(self)
    }

    /// Stages everything and commits it (an empty commit when nothing changed); returns
    /// the commit id.
    pub fn commit(&mut self, message: &str) -> anyhow::Result<String> {
        git(&self.work, &["add", "--all"])?;
        git(
            &self.work,
            &[
                "commit",
                "--quiet",
                "--allow-empty",
                "--no-verify",
                "-m",
                message,
            ],
        )?;
        self.head()
    }

    /// Creates `name` at HEAD and switches to it.
    pub fn branch(&mut self, name: &str) -> anyhow::Result<&mut Self> {
        git(&self.work, &["checkout", "--quiet", "-b", name])?;
        Ok(self)
    }

    /// Switches to an existing branch.
    pub fn checkout(&mut self, name: &str) -> anyhow::Result<&mut Self> {
        git(&self.work, &["checkout", "--quiet", name])?;
        Ok(self)
    }

    pub fn head(&self) -> anyhow::Result<String> {
        Ok(git(&self.work, &["rev-parse", "HEAD"])?.trim().to_owned())
    }

    /// A bare copy of every branch, with `main` as its default branch: a remote for tests.
    pub fn into_bare(self) -> anyhow::Result<BareRepo> {
        let path = self.dir.path().join("remote.git");
        git(
            self.dir.path(),
            &[
                "clone",
                "--quiet",
                "--bare",
                "--no-local",
                "work",
                "remote.git",
            ],
        )?;
        git(&path, &["symbolic-ref", "HEAD", "refs/heads/main"])?;
        let url = format!("file://{}", path.display());
        Ok(BareRepo {
            _dir: self.dir,
            path,
            url,
        })
    }
}

/// One commit of a branch's history, newest first in [`BareRepo::log`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub commit: String,
    pub parents: Vec<String>,
    pub author_name: String,
    pub author_email: String,
    pub subject: String,
    /// The whole message.
    pub message: String,
}

impl LogEntry {
    /// The values of trailer `key` in the message's last paragraph.
    pub fn trailer(&self, key: &str) -> Vec<String> {
        let last_paragraph = self.message.trim_end().rsplit("\n\n").next().unwrap_or("");
        last_paragraph
            .lines()
            .filter_map(|line| line.split_once(": "))
            .filter(|(line_key, _)| *line_key == key)
            .map(|(_, value)| value.trim().to_owned())
            .collect()
    }
}

/// A bare repository in a temporary directory, removed when dropped.
#[derive(Debug)]
pub struct BareRepo {
    _dir: TempDir,
    pub path: PathBuf,
    /// A `file://` URL for the repository.
    pub url: String,
}

impl BareRepo {
    /// Runs git in the bare repository.
    pub fn git(&self, args: &[&str]) -> anyhow::Result<String> {
        git(&self.path, args)
    }

    /// The tip of `branch`, or `None` when it does not exist.
    pub fn tip(&self, branch: &str) -> anyhow::Result<Option<String>> {
        let reference = format!("refs/heads/{branch}");
        let listed = self.git(&["for-each-ref", "--format=%(objectname)", &reference])?;
        Ok(listed.lines().next().map(str::to_owned))
    }

    /// The branches, sorted.
    pub fn branches(&self) -> anyhow::Result<Vec<String>> {
        let listed = self.git(&["for-each-ref", "--format=%(refname:short)", "refs/heads"])?;
        Ok(listed.lines().map(str::to_owned).collect())
    }

    /// The content of `path` at `revision` (a branch or a commit), or `None` when the
    /// path does not exist there.
    pub fn read_file(&self, revision: &str, path: &str) -> anyhow::Result<Option<String>> {
        let object = format!("{revision}:{path}");
        let exists = Command::new("git")
            .current_dir(&self.path)
            .args(["cat-file", "-e", &object])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stderr(Stdio::null())
            .status()?
            .success();
        if !exists {
            return Ok(None);
        }
        Ok(Some(self.git(&["cat-file", "blob", &object])?))
    }

    /// The commits of `revision`, newest first, following first parents only.
    pub fn log(&self, revision: &str) -> anyhow::Result<Vec<LogEntry>> {
        log(&self.path, revision)
    }

    /// Commits `files` on top of `branch` directly in the bare repository, as another
    /// writer would; returns the new commit. The branch is created when it is missing.
    pub fn commit_files(
        &self,
        branch: &str,
        files: &[(&str, &str)],
        message: &str,
    ) -> anyhow::Result<String> {
        let reference = format!("refs/heads/{branch}");
        let parent = self.tip(branch)?;
        let index_dir = tempfile::tempdir()?;
        let index = index_dir.path().join("index");
        let index_text = index.to_str().context("temporary path is not UTF-8")?;
        let with_index = [("GIT_INDEX_FILE", index_text)];
        if let Some(parent) = &parent {
            git_with_env(&self.path, &["read-tree", parent], &with_index)?;
        }
        for (path, content) in files {
            let blob_file = index_dir.path().join("blob");
            std::fs::write(&blob_file, content)?;
            let blob_path = blob_file.to_str().context("temporary path is not UTF-8")?;
            let blob = git(&self.path, &["hash-object", "-w", blob_path])?;
            let entry = format!("100644,{},{path}", blob.trim());
            git_with_env(
                &self.path,
                &["update-index", "--add", "--cacheinfo", &entry],
                &with_index,
            )?;
        }
        let tree = git_with_env(&self.path, &["write-tree"], &with_index)?;
        let mut commit_tree = vec!["commit-tree", tree.trim(), "-m", message];
        if let Some(parent) = &parent {
            commit_tree.extend(["-p", parent]);
        }
        let commit = git(&self.path, &commit_tree)?.trim().to_owned();
        let mut update = vec!["update-ref", &reference, &commit];
        if let Some(parent) = &parent {
            update.push(parent);
        }
        git(&self.path, &update)?;
        Ok(commit)
    }

    /// Points `branch` at `revision`, creating it when it is missing.
    pub fn set_branch(&self, branch: &str, revision: &str) -> anyhow::Result<()> {
        let reference = format!("refs/heads/{branch}");
        self.git(&["update-ref", &reference, revision])?;
        Ok(())
    }
}

/// The commits of `revision` in `repository`, newest first, following first parents only.
pub fn log(repository: &Path, revision: &str) -> anyhow::Result<Vec<LogEntry>> {
    let listed = git(
        repository,
        &[
            "log",
            "--first-parent",
            "--format=%H%x1f%P%x1f%an%x1f%ae%x1f%s%x1f%B%x1e",
            revision,
            "--",
        ],
    )?;
    listed
        .split('\x1e')
        .map(str::trim_start)
        .filter(|record| !record.is_empty())
        .map(|record| {
            let fields: Vec<&str> = record.splitn(6, '\x1f').collect();
            let [commit, parents, author_name, author_email, subject, message] = fields[..] else {
                bail!("unexpected git log record {record:?}");
            };
            Ok(LogEntry {
                commit: commit.to_owned(),
                parents: parents.split_whitespace().map(str::to_owned).collect(),
                author_name: author_name.to_owned(),
                author_email: author_email.to_owned(),
                subject: subject.to_owned(),
                message: message.to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixture_becomes_a_bare_remote_with_its_history() -> anyhow::Result<()> {
        let mut fixture = GitFixture::new()?;
        fixture.file("a.txt", "a\n")?.file("dir/b.txt", "b\n")?;
        let first = fixture.commit("First")?;
        fixture.branch("topic")?.file("a.txt", "topic\n")?;
        let topic = fixture.commit("Topic\n\nSortie-Attempt: x1")?;
        fixture.checkout("main")?;
        let remote = fixture.into_bare()?;

        assert_eq!(remote.branches()?, ["main", "topic"]);
        assert_eq!(
            remote.git(&["symbolic-ref", "HEAD"])?.trim(),
            "refs/heads/main"
        );
        assert_eq!(remote.tip("main")?.as_deref(), Some(first.as_str()));
        assert_eq!(remote.tip("absent")?, None);
        assert_eq!(
            remote.read_file("topic", "a.txt")?.as_deref(),
            Some("topic\n")
        );
        assert_eq!(
            remote.read_file(&first, "dir/b.txt")?.as_deref(),
            Some("b\n")
        );
        assert_eq!(remote.read_file("main", "absent.txt")?, None);

        let log = remote.log("topic")?;
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].commit, topic);
        assert_eq!(log[0].parents, [first.as_str()]);
        assert_eq!(log[0].subject, "Topic");
        assert_eq!(log[0].trailer("Sortie-Attempt"), ["x1"]);
        assert_eq!(log[0].author_name, FIXTURE_NAME);
        assert!(log[1].parents.is_empty());
        Ok(())
    }

    #[test]
    fn another_writer_commits_straight_into_the_bare_repository() -> anyhow::Result<()> {
        let mut fixture = GitFixture::new()?;
        fixture.file("a.txt", "a\n")?;
        let first = fixture.commit("First")?;
        let remote = fixture.into_bare()?;

        let second = remote.commit_files("main", &[("nested/c.txt", "c\n")], "Second")?;
        assert_eq!(remote.tip("main")?.as_deref(), Some(second.as_str()));
        assert_eq!(remote.log("main")?[0].parents, [first]);
        assert_eq!(remote.read_file("main", "a.txt")?.as_deref(), Some("a\n"));
        assert_eq!(
            remote.read_file("main", "nested/c.txt")?.as_deref(),
            Some("c\n")
        );

        let root = remote.commit_files("fresh", &[("only.txt", "1")], "Root")?;
        assert!(remote.log(&root)?[0].parents.is_empty());
        remote.set_branch("copy", &second)?;
        assert_eq!(remote.tip("copy")?.as_deref(), Some(second.as_str()));
        Ok(())
    }
}
