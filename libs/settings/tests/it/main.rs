//! Integration tests of sortie-settings: layering, errors, secrets, naming rules.

mod agents;
mod errors;
mod layering;
mod naming;
mod secrets;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A settings file in a fresh directory, removed on drop.
pub(crate) struct TempSettingsFile {
    directory: PathBuf,
    path: PathBuf,
}

impl TempSettingsFile {
    pub(crate) fn new(contents: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let directory = std::env::temp_dir().join(format!(
            "sortie-settings-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&directory).expect("create a temporary directory");
        let path = directory.join("sortie.toml");
        std::fs::write(&path, contents).expect("write the settings file");
        Self { directory, path }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempSettingsFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}
