//! `aml-handlers package` as a user runs it: app layouts for one, two and all functions, the
//! executable's run bit, the zip for zip deploy (Flex Consumption, Premium, Dedicated), and
//! refusals.

mod common;

use std::{collections::BTreeSet, fs, path::Path};

use aml_events::Function;
use common::{command, stdout_of_success};

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
        stdout_of_success(&output);
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
    stdout_of_success(&output);
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

/// The central directory of a zip, read by hand rather than through the `zip` crate, since that
/// is what an unzipping host reads: entry name -> (the "version made by" host system byte,
/// the external file attributes).
/// See <https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT> (4.3.12, 4.3.16, 4.4.2).
fn central_directory(zip: &[u8]) -> Vec<(String, u8, u32)> {
    let u16_at = |at: usize| u16::from_le_bytes([zip[at], zip[at + 1]]) as usize;
    let u32_at = |at: usize| u32::from_le_bytes([zip[at], zip[at + 1], zip[at + 2], zip[at + 3]]);
    let end = (0..=zip.len() - 22)
        .rev()
        .find(|&at| zip[at..at + 4] == [0x50, 0x4b, 0x05, 0x06])
        .expect("end of central directory record");
    let count = u16_at(end + 10);
    let mut at = u32_at(end + 16) as usize;
    let mut entries = Vec::new();
    for _ in 0..count {
        assert_eq!(
            zip[at..at + 4],
            [0x50, 0x4b, 0x01, 0x02],
            "central directory header"
        );
        let host_system = zip[at + 5];
        let name_len = u16_at(at + 28);
        let extra_len = u16_at(at + 30);
        let comment_len = u16_at(at + 32);
        let external = u32_at(at + 38);
        let name = String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).unwrap();
        entries.push((name, host_system, external));
        at += 46 + name_len + extra_len + comment_len;
    }
    entries
}

/// Zip deploy, on Flex Consumption as on the classic plans, unpacks the zip as the app's root:
/// `host.json` and each `<Function>/function.json` must sit at the zip's root, and the custom
/// handler keeps its run bit only if the zip says so (Unix host system, mode 0o755 in the
/// external attributes): the host then starts it as is.
/// See <https://learn.microsoft.com/azure/azure-functions/deployment-zip-push> and
/// <https://learn.microsoft.com/azure/azure-functions/functions-custom-handlers>.
#[test]
fn zip_deploys_to_flex_with_the_app_at_the_root_and_the_run_bit() {
    let out = scratch("flex-zip");
    let stand_in =
        std::env::temp_dir().join(format!("aml-handlers-flex-stand-in-{}", std::process::id()));
    fs::write(&stand_in, "#!/bin/sh\necho stand-in\n").unwrap();
    let output = package(&out, &["--zip", "--executable", stand_in.to_str().unwrap()]);
    stdout_of_success(&output);
    let bytes = fs::read(out.join("app.zip")).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.as_slice())).unwrap();

    // The app is at the zip's root: no folder around it, no absolute or dotted paths.
    let names: BTreeSet<String> = archive.file_names().map(str::to_owned).collect();
    let mut expected: BTreeSet<String> = ["host.json", "aml-handlers", ".funcignore"]
        .map(String::from)
        .into();
    expected.extend(
        Function::ALL
            .iter()
            .map(|function| format!("{}/function.json", function.name())),
    );
    assert_eq!(names, expected);
    for name in &names {
        assert!(
            !name.starts_with('/') && !name.starts_with("./") && !name.contains(['\\', ':']),
            "{name}: entries are relative to the app root"
        );
    }

    // What the host reads is the committed host.json and function.json, byte for byte.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |archive: &mut zip::ZipArchive<_>, name: &str| {
        let mut entry = archive.by_name(name).unwrap();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
        (content, entry.unix_mode(), entry.is_file())
    };
    let (host, host_mode, _) = read(&mut archive, "host.json");
    assert_eq!(host, fs::read(root.join("host.json")).unwrap());
    assert_eq!(host_mode.map(|mode| mode & 0o777), Some(0o644));
    for function in Function::ALL {
        let name = format!("{}/function.json", function.name());
        let (definition, _, _) = read(&mut archive, &name);
        assert_eq!(
            definition,
            fs::read(root.join("function-definitions").join(&name)).unwrap(),
            "{name}"
        );
    }

    // The executable: a regular file, rwxr-xr-x.
    let (binary, mode, is_file) = read(&mut archive, "aml-handlers");
    assert_eq!(binary, fs::read(&stand_in).unwrap());
    assert!(is_file);
    let mode = mode.expect("the executable's entry carries a Unix mode");
    assert_eq!(mode & 0o111, 0o111, "executable by all: {mode:o}");
    assert_eq!(mode & 0o777, 0o755, "{mode:o}");

    // The same, as raw bytes: a Unix entry (host system 3) whose attributes are S_IFREG | 0o755.
    let (_, host_system, external) = central_directory(&bytes)
        .into_iter()
        .find(|(name, _, _)| name == "aml-handlers")
        .expect("the executable is in the central directory");
    assert_eq!(
        host_system, 3,
        "made by a Unix host, so unzip honours the mode"
    );
    assert_eq!(external >> 16, 0o100755, "{:o}", external >> 16);

    fs::remove_dir_all(out).unwrap();
    fs::remove_file(stand_in).unwrap();
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
