//! The Functions host finds our functions, our binary and our settings by name in JSON files
//! that the compiler never sees; this test keeps those files and the code naming the same things.
//!
//! In the spirit of cloudevents' `version_number.rs`: every [`Function`] has a
//! `function-definitions/<Function>/function.json` with one Event Grid trigger and every folder
//! there is a [`Function`]; `host.json` starts the `aml-handlers` bin with `serve`; and
//! `local.settings.example.json` documents exactly the settings `config.rs` reads.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

use aml_events::Function;
use serde_json::{Map, Value};

/// Settings whose example value must be empty: a real secret must never be committed.
const SECRETS: [&str; 5] = [
    "AML_WEBHOOK_KEY",
    "AML_NOTIFY_URL",
    "AML_SMOKE_TEST_KEY",
    "AZURE_CLIENT_SECRET",
    "IDENTITY_HEADER",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn definitions_dir() -> PathBuf {
    root().join("function-definitions")
}

/// Reads `relative` (to the package root) as JSON, panicking with the file's name.
fn read_json(relative: &str) -> Value {
    let path = root().join(relative);
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{relative}: cannot read {}: {error}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{relative}: not valid JSON: {error}"))
}

/// The object at `key` of `value`, panicking with the file and key.
fn object<'a>(value: &'a Value, file: &str, key: &str) -> &'a Map<String, Value> {
    value
        .get(key)
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("{file}: `{key}` is missing or not an object"))
}

#[test]
fn every_function_has_a_definition_with_one_event_grid_trigger() {
    for function in Function::ALL {
        let file = format!("function-definitions/{}/function.json", function.name());
        let definition = read_json(&file);
        let bindings = definition
            .get("bindings")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{file}: `bindings` is missing or not an array"));
        assert_eq!(
            bindings.len(),
            1,
            "{file}: `bindings` must hold exactly one binding, the Event Grid trigger"
        );
        let binding = &bindings[0];
        assert_eq!(
            binding["type"], "eventGridTrigger",
            "{file}: bindings[0].type must be eventGridTrigger"
        );
        assert_eq!(
            binding["direction"], "in",
            "{file}: bindings[0].direction must be in"
        );
        // The host rejects a binding without a name; which name it is does not matter (docs/answers.md).
        assert!(
            binding["name"]
                .as_str()
                .is_some_and(|name| !name.is_empty()),
            "{file}: bindings[0].name must be a non-empty string"
        );
    }
}

#[test]
fn every_definition_folder_is_a_function() {
    let dir = definitions_dir();
    let entries =
        fs::read_dir(&dir).unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
    let mut folders = BTreeSet::new();
    for entry in entries {
        let entry = entry.expect("function-definitions/: cannot read a directory entry");
        if !entry.path().is_dir() {
            continue;
        }
        let name = entry.file_name().into_string().unwrap_or_else(|name| {
            panic!("function-definitions/{name:?}: folder name is not UTF-8")
        });
        let function = Function::from_name(&name).unwrap_or_else(|| {
            panic!("function-definitions/{name}/: no aml_events::Function has this name")
        });
        // Routes ignore case but folder names on Linux do not: insist on the exact spelling.
        assert_eq!(
            function.name(),
            name,
            "function-definitions/{name}/: folder must be spelled exactly like the function"
        );
        folders.insert(name);
    }
    let expected: BTreeSet<String> = Function::ALL.iter().map(|f| f.name().to_owned()).collect();
    assert_eq!(
        folders, expected,
        "function-definitions/ must hold one folder per aml_events::Function and no other"
    );
}

#[test]
fn host_json_starts_the_bin_with_serve() {
    let file = "host.json";
    let host = read_json(file);
    assert_eq!(host["version"], "2.0", "{file}: `version` must be \"2.0\"");
    assert_eq!(
        host.pointer("/extensionBundle/id"),
        Some(&Value::from("Microsoft.Azure.Functions.ExtensionBundle")),
        "{file}: extensionBundle.id must be Microsoft.Azure.Functions.ExtensionBundle"
    );

    let description = host
        .pointer("/customHandler/description")
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("{file}: customHandler.description is missing or not an object"));
    let bin = Path::new(env!("CARGO_BIN_EXE_aml-handlers"));
    let bin_name = bin
        .file_name()
        .and_then(|name| name.to_str())
        .expect("the bin path ends in a UTF-8 file name");
    // Compare without the `.exe` that Cargo adds on Windows; the Linux app runs `aml-handlers`.
    let bin_name = bin_name
        .strip_suffix(std::env::consts::EXE_SUFFIX)
        .unwrap_or(bin_name);
    assert_eq!(
        description["defaultExecutablePath"], bin_name,
        "{file}: customHandler.description.defaultExecutablePath must name the bin"
    );
    assert_eq!(
        description["arguments"],
        serde_json::json!(["serve"]),
        "{file}: customHandler.description.arguments must be [\"serve\"]"
    );
}

#[test]
fn local_settings_example_documents_every_setting() {
    let file = "local.settings.example.json";
    let settings = read_json(file);
    let values = object(&settings, file, "Values");
    let comments = object(&settings, file, "_comments");

    assert_eq!(
        values
            .get("FUNCTIONS_WORKER_RUNTIME")
            .and_then(Value::as_str),
        Some("custom"),
        "{file}: Values.FUNCTIONS_WORKER_RUNTIME must be \"custom\""
    );
    for (key, value) in values {
        // Core Tools reads every value as a string.
        assert!(value.is_string(), "{file}: Values.{key} must be a string");
        assert!(
            comments
                .get(key)
                .and_then(Value::as_str)
                .is_some_and(|comment| !comment.trim().is_empty()),
            "{file}: Values.{key} has no non-empty _comments.{key}"
        );
    }
    for key in comments.keys() {
        assert!(
            values.contains_key(key),
            "{file}: _comments.{key} documents a setting missing from Values"
        );
    }
    assert!(
        !values.contains_key("FUNCTIONS_CUSTOMHANDLER_PORT"),
        "{file}: Values.FUNCTIONS_CUSTOMHANDLER_PORT must not be set: the Functions host sets it"
    );

    let listed: BTreeSet<&str> = values
        .keys()
        .map(String::as_str)
        .filter(|key| {
            ["AML_", "AZURE_", "IDENTITY_"]
                .iter()
                .any(|prefix| key.starts_with(prefix))
                || *key == "RUST_LOG"
        })
        .collect();
    let read: BTreeSet<&str> = aml_handlers::config::SETTINGS.iter().copied().collect();
    let undocumented: Vec<_> = read.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&read).collect();
    assert!(
        undocumented.is_empty(),
        "{file}: Values lacks settings that aml_handlers::config::SETTINGS reads: {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "{file}: Values lists settings missing from aml_handlers::config::SETTINGS: {unknown:?}"
    );

    for secret in SECRETS {
        assert_eq!(
            values.get(secret).and_then(Value::as_str),
            Some(""),
            "{file}: Values.{secret} is a secret: the example must list it with the value \"\""
        );
    }
}
