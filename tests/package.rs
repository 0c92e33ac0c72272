//! `aml-handlers package` as a user runs it: app layouts for one, two and all functions, the
//! executable's run bit, the zip for zip deploy, and refusals.

mod common;

use std::{fs, path::Path};

use common::command;

fn package(out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["package", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    command(&args, &[]).output().unwrap()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "aml-handlers-package-{}-{name}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn folders(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn packages_one_two_or_all_functions() {
    let cases: [(&[&str], &[&str]); 3] = [
        (&["--functions", "RunStatusChanged"], &["RunStatusChanged"]),
        (
            &["--functions", "ModelDeployed,datasetdriftdetected"],
            &["DatasetDriftDetected", "ModelDeployed"],
        ),
        (
            &[],
            &[
                "DatasetDriftDetected",
                "ModelDeployed",
                "ModelRegistered",
                "RunCompleted",
                "RunStatusChanged",
            ],
        ),
    ];
    for (args, expected) in cases {
        let out = scratch(&expected.len().to_string());
        let output = package(&out, args);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(folders(&out), expected);
        // host.json and every function.json are the committed files, byte for byte.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(
            fs::read(out.join("host.json")).unwrap(),
            fs::read(root.join("host.json")).unwrap()
        );
        for function in expected {
            let shipped = fs::read(out.join(function).join("function.json")).unwrap();
            let committed = fs::read(
                root.join("function-definitions")
                    .join(function)
                    .join("function.json"),
            )
            .unwrap();
            assert_eq!(shipped, committed, "{function}");
        }
        let executable = out.join("aml-handlers");
        assert!(executable.is_file());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&executable).unwrap().permissions().mode() & 0o111,
                0o111,
                "runnable"
            );
            // The shipped binary is this one and runs.
            let version = std::process::Command::new(&executable)
                .arg("--version")
                .output()
                .unwrap();
            assert!(String::from_utf8_lossy(&version.stdout).starts_with("aml-handlers "));
        }
        fs::remove_dir_all(out).unwrap();
    }
}

#[test]
fn writes_a_zip_for_zip_deploy() {
    let out = scratch("zip");
    // A small stand-in executable keeps the test fast; --executable is how a musl build ships.
    let stand_in =
        std::env::temp_dir().join(format!("aml-handlers-stand-in-{}", std::process::id()));
    fs::write(&stand_in, "#!/bin/sh\necho stand-in\n").unwrap();
    let output = package(
        &out,
        &[
            "--functions",
            "RunStatusChanged",
            "--zip",
            "--executable",
            stand_in.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let file = fs::File::open(out.join("app.zip")).unwrap();
    let mut archive = zip::ZipArchive::new(file).unwrap();
    let mut names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".funcignore",
            "RunStatusChanged/function.json",
            "aml-handlers",
            "host.json"
        ]
    );
    let binary = archive.by_name("aml-handlers").unwrap();
    assert_eq!(
        binary.unix_mode().unwrap() & 0o755,
        0o755,
        "the host must be able to exec it"
    );
    assert_eq!(
        binary.size(),
        fs::metadata(out.join("aml-handlers")).unwrap().len()
    );
    fs::remove_dir_all(out).unwrap();
}

#[test]
fn refuses_unknown_function_names() {
    let out = scratch("unknown");
    let output = package(&out, &["--functions", "RunCompleted,RunExploded"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("\"RunExploded\""), "{stderr}");
    assert!(!out.exists(), "nothing written");
}
