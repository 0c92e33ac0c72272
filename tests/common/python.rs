//! A Python with one PyPI package, for the tests that check our output with the ecosystem's own
//! library (Standard Webhooks, Azure Storage, Prometheus' parser): a venv under the test
//! target's `tmp`, made and filled on first use, kept for later runs.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// What to install and why: `requirement` for pip, `import` to check it is there, `purpose` to
/// say what a missing `python3` stops.
pub struct Package<'a> {
    /// A pip requirement, `standardwebhooks==1.*`.
    pub requirement: &'a str,
    /// A module that imports once it is installed.
    pub import: &'a str,
    /// `the signing tests verify with ...`: what needs it.
    pub purpose: &'a str,
}

/// The python of `<dir>/venv` with `package` in it, installed when missing. No `python3` is a
/// test failure with a message, never a skip.
pub fn with(dir: &Path, package: &Package<'_>) -> PathBuf {
    let python = dir.join("venv/bin/python");
    let has_package = |python: &Path| {
        Command::new(python)
            .args(["-c", &format!("import {}", package.import)])
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if has_package(&python) {
        return python;
    }
    std::fs::create_dir_all(dir).unwrap();
    let venv = Command::new("python3")
        .args(["-m", "venv"])
        .arg(dir.join("venv"))
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "{}, and `python3` could not be run ({err}): install Python 3 with venv",
                package.purpose
            )
        });
    succeeded("python3 -m venv", &venv);
    let pip = Command::new(dir.join("venv/bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            package.requirement,
        ])
        .output()
        .expect("the venv's pip runs");
    succeeded(&format!("pip install {}", package.requirement), &pip);
    assert!(
        has_package(&python),
        "{} installed in the venv",
        package.requirement
    );
    python
}

/// Panics with `what`'s status and output unless it succeeded.
pub fn succeeded(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "`{what}` failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
