//! Dead-letter blobs written as Event Grid writes them, by a writer independent of the code
//! under test: Microsoft's own Python SDK (`azure-storage-blob` from PyPI, in a virtual
//! environment), which also reads the metadata back.
//!
//! Installed once per test binary under `<target>/tmp/azure-storage-blob` when missing
//! (nothing committed, nothing outside the target directory), as the signing tests install
//! `standardwebhooks`. No `python3` on PATH is a test failure with a message, never a silent
//! skip.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::OnceLock,
    time::Instant,
};

use serde_json::{Map, Value, json};

/// `write CONNECTION CONTAINER` takes `[{"name", "records", "metadata"?}]` on stdin and uploads
/// each blob (creating the container); `metadata CONNECTION CONTAINER` prints every blob's
/// metadata as `{"name": {...}}`.
const PYTHON: &str = r#"
import json, sys
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient, ContentSettings

command, connection, container = sys.argv[1:4]
client = BlobServiceClient.from_connection_string(connection).get_container_client(container)
if command == "write":
    try:
        client.create_container()
    except ResourceExistsError:
        pass
    for blob in json.load(sys.stdin):
        client.upload_blob(
            blob["name"],
            json.dumps(blob["records"]).encode(),
            overwrite=True,
            metadata=blob.get("metadata"),
            content_settings=ContentSettings(content_type="application/json"),
        )
    print("written")
elif command == "metadata":
    print(json.dumps({b.name: b.metadata for b in client.list_blobs(include=["metadata"])}))
"#;

/// One blob to write: its name, its records (a JSON array) and metadata, if any.
pub(crate) fn blob(name: &str, records: Value, metadata: Option<Value>) -> Value {
    json!({ "name": name, "records": records, "metadata": metadata })
}

/// Uploads `blobs` into `container` (created when missing) with the SDK.
pub(crate) fn write(connection: &str, container: &str, blobs: &[Value]) {
    let output = run("write", connection, container, &Value::from(blobs.to_vec()));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "written",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every blob's metadata in `container`, as the SDK lists it.
pub(crate) fn metadata(connection: &str, container: &str) -> Map<String, Value> {
    let output = run("metadata", connection, container, &Value::Null);
    serde_json::from_slice::<Value>(&output.stdout)
        .ok()
        .and_then(|value| value.as_object().cloned())
        .unwrap_or_else(|| {
            panic!(
                "the SDK listed no metadata: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        })
}

fn run(command: &str, connection: &str, container: &str, input: &Value) -> Output {
    let installed = installed();
    let mut child = Command::new(&installed.python)
        .arg(&installed.script)
        .args([command, connection, container])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("the SDK's python did not start: {err}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    crate::common::python::succeeded(&format!("azure-storage-blob {command}"), &output);
    output
}

struct Installed {
    python: PathBuf,
    script: PathBuf,
}

fn installed() -> &'static Installed {
    static INSTALLED: OnceLock<Installed> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("azure-storage-blob");
        let started = Instant::now();
        let python = install(&dir);
        let script = dir.join("dead_letters.py");
        std::fs::write(&script, PYTHON).unwrap();
        eprintln!(
            "azure-storage-blob: ready after {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Installed { python, script }
    })
}

/// `<dir>/venv` with `azure-storage-blob` from PyPI; its python.
fn install(dir: &Path) -> PathBuf {
    crate::common::python::with(
        dir,
        &crate::common::python::Package {
            requirement: "azure-storage-blob==12.*",
            import: "azure.storage.blob",
            purpose: "the replay tests write dead letters with the Python azure-storage-blob package",
        },
    )
}
