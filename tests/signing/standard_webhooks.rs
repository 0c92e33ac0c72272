//! The Standard Webhooks libraries themselves, used as a receiver uses them: the
//! `standardwebhooks` package from PyPI (in a virtual environment) and from npm, each given the
//! secret, the request's headers and its body bytes, and asked to verify them.
//!
//! Installed once per test binary under `<target>/tmp/standardwebhooks` when missing (nothing
//! committed, nothing outside the target directory), as the ledger tests install Azurite. No
//! `python3` or `npm` on PATH is a test failure with a message, never a silent skip.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
    time::Instant,
};

/// Which implementation verifies.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Library {
    /// `pip install standardwebhooks`.
    Python,
    /// `npm install standardwebhooks`.
    Node,
}

/// Reads the secret from `SECRET`, the headers as JSON from the first argument and the body
/// from stdin, and verifies them: what docs/notifications.md shows a receiver doing.
const PYTHON: &str = r#"
import json, os, sys
from standardwebhooks import Webhook, WebhookVerificationError

webhook = Webhook(os.environ["SECRET"])
try:
    notice = webhook.verify(sys.stdin.buffer.read(), json.loads(sys.argv[1]))
except WebhookVerificationError as err:
    print(f"refused: {err}")
    sys.exit(1)
print(f"verified {notice['eventId']}")
"#;

/// The same with the npm package.
const NODE: &str = r#"
const { Webhook } = require("standardwebhooks");
const webhook = new Webhook(process.env.SECRET);
const body = require("fs").readFileSync(0);
try {
  const notice = webhook.verify(body, JSON.parse(process.argv[2]));
  console.log(`verified ${notice.eventId}`);
} catch (err) {
  console.log(`refused: ${err.message}`);
  process.exit(1);
}
"#;

/// Whether `library` takes `body` with `headers` as signed with `secret`: `Ok` with what it
/// printed (`verified <eventId>`), `Err` with its refusal.
pub(crate) fn verify(
    library: Library,
    secret: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<String, String> {
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).into()))
        .collect();
    let headers = serde_json::Value::Object(headers).to_string();
    let mut command = match library {
        Library::Python => {
            let installed = installed();
            let mut command = Command::new(&installed.python);
            command.arg(&installed.python_script);
            command
        }
        Library::Node => {
            let mut command = Command::new("node");
            command.arg(&installed().node_script);
            command
        }
    };
    let mut child = command
        .arg(headers)
        .env("SECRET", secret)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{library:?} verifier did not start: {err}"));
    child.stdin.take().unwrap().write_all(body).unwrap();
    let output = child.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    match output.status.code() {
        Some(0) => Ok(printed),
        Some(1) if printed.starts_with("refused: ") => Err(printed),
        _ => panic!(
            "{library:?} verifier failed ({}): {printed}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// Where the libraries and the scripts that use them are.
struct Installed {
    python: PathBuf,
    python_script: PathBuf,
    node_script: PathBuf,
}

fn installed() -> &'static Installed {
    static INSTALLED: OnceLock<Installed> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("standardwebhooks");
        let started = Instant::now();
        let python = install_python(&dir.join("python"));
        install_node(&dir.join("node"));
        let python_script = dir.join("python/verify.py");
        let node_script = dir.join("node/verify.js");
        std::fs::write(&python_script, PYTHON).unwrap();
        // Beside its node_modules, so that `require` finds the package.
        std::fs::write(&node_script, NODE).unwrap();
        eprintln!(
            "standardwebhooks: PyPI and npm packages ready after {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Installed {
            python,
            python_script,
            node_script,
        }
    })
}

/// `<dir>/venv` with `standardwebhooks` from PyPI; its python.
fn install_python(dir: &Path) -> PathBuf {
    crate::common::python::with(
        dir,
        &crate::common::python::Package {
            requirement: "standardwebhooks==1.*",
            import: "standardwebhooks",
            purpose: "the signing tests verify with the Python standardwebhooks package",
        },
    )
}

/// `<dir>/node_modules/standardwebhooks` from npm.
fn install_node(dir: &Path) {
    if dir
        .join("node_modules/standardwebhooks/package.json")
        .exists()
    {
        return;
    }
    std::fs::create_dir_all(dir).unwrap();
    let npm = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(dir)
        .arg("standardwebhooks@1")
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "the signing tests verify with the npm standardwebhooks package, and `npm` could not be run ({err}): install Node.js and npm"
            )
        });
    crate::common::python::succeeded("npm install standardwebhooks", &npm);
}
