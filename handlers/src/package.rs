//! `aml-handlers package`: writes a deployable Azure Functions app (host.json, one folder per
//! chosen function, the executable) and optionally its zip for zip deploy.
//!
//! The host and function definitions are compiled into the binary from `host.json` and
//! `function-definitions/`, so a package can never drift from the files the repository tests.

use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
};

use aml_events::Function;

/// `host.json`, as committed.
pub const HOST_JSON: &str = include_str!("../../host.json");

/// The executable's name inside the app: `host.json`'s `defaultExecutablePath`.
pub const EXECUTABLE: &str = "aml-handlers";

/// The zip written beside the app's files by `--zip`.
pub const ZIP_NAME: &str = "app.zip";

/// `function-definitions/<Function>/function.json`, as committed.
pub fn function_json(function: Function) -> &'static str {
    match function {
        Function::ModelRegistered => {
            include_str!("../../function-definitions/ModelRegistered/function.json")
        }
        Function::ModelDeployed => {
            include_str!("../../function-definitions/ModelDeployed/function.json")
        }
        Function::RunCompleted => {
            include_str!("../../function-definitions/RunCompleted/function.json")
        }
        Function::DatasetDriftDetected => {
            include_str!("../../function-definitions/DatasetDriftDetected/function.json")
        }
        Function::RunStatusChanged => {
            include_str!("../../function-definitions/RunStatusChanged/function.json")
        }
    }
}

/// Why a package could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// A name in `--functions` is not a function.
    #[error("unknown function {0:?}; the functions are {functions}", functions = Function::list())]
    UnknownFunction(String),
    /// `--functions` named nothing.
    #[error("--functions names no function")]
    NoFunctions,
    /// A file could not be read or written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The routes file (or a job file it names) cannot be shipped.
    #[error("--routes {path}: {problem}")]
    Routes {
        /// The routes file.
        path: PathBuf,
        /// Why.
        problem: String,
    },
    /// The zip could not be written.
    #[error("cannot write the zip {path}: {source}")]
    Zip {
        /// The zip.
        path: PathBuf,
        /// Why.
        #[source]
        source: zip::result::ZipError,
    },
}

/// Reads `--functions A,B` (any case); `None` means all five.
pub fn select(list: Option<&str>) -> Result<Vec<Function>, PackageError> {
    let Some(list) = list else {
        return Ok(Function::ALL.to_vec());
    };
    let mut chosen = Vec::new();
    for name in list
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        let function = Function::from_name(name)
            .ok_or_else(|| PackageError::UnknownFunction(name.to_owned()))?;
        if !chosen.contains(&function) {
            chosen.push(function);
        }
    }
    if chosen.is_empty() {
        return Err(PackageError::NoFunctions);
    }
    Ok(chosen)
}

/// The folder of the app the routes file and its job files are shipped in.
pub const ROUTES_FOLDER: &str = "routes";

/// The routes file and the job files it names, as files of the app: `routes/<file name>`
/// first, then each job file at its path relative to the routes file (so the shipped file
/// finds them as it did). Job paths must stay inside the routes file's folder. The file is
/// checked for what `routes check` would refuse only when the app starts, where its
/// `${NAME}`s are set; here it must at least be TOML.
pub fn routes_files(path: &Path) -> Result<Vec<(String, Vec<u8>)>, PackageError> {
    let problem = |problem: String| PackageError::Routes {
        path: path.to_owned(),
        problem,
    };
    let text = fs::read_to_string(path).map_err(|err| problem(err.to_string()))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|err| problem(format!("not TOML: {}", err.message())))?;
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| problem("has no file name".into()))?;
    let mut files = vec![(format!("{ROUTES_FOLDER}/{name}"), text.into_bytes())];
    let folder = path.parent().unwrap_or(Path::new(""));
    let routes = table.get("routes").and_then(|routes| routes.as_array());
    for route in routes.into_iter().flatten() {
        let Some(job) = route
            .get("retrain")
            .and_then(|retrain| retrain.get("job_file"))
            .and_then(|job| job.as_str())
        else {
            continue;
        };
        // The rule start-up and `routes check` apply: a file that starts can be shipped.
        let source = crate::routes::file::job_file_path(folder, job)
            .map_err(|why| problem(format!("job_file {why}")))?;
        let app_name = format!("{ROUTES_FOLDER}/{}", job.trim_start_matches("./"));
        if files.iter().any(|(seen, _)| *seen == app_name) {
            continue;
        }
        let content =
            fs::read(&source).map_err(|err| problem(format!("job_file {job:?}: {err}")))?;
        files.push((app_name, content));
    }
    Ok(files)
}

/// The files of an app: relative path, content, whether it is executable.
fn files(functions: &[Function], executable: &[u8]) -> Vec<(String, Vec<u8>, bool)> {
    let mut files = vec![
        ("host.json".to_owned(), HOST_JSON.as_bytes().to_vec(), false),
        // Keeps `func azure functionapp publish` from uploading the zip inside the app.
        (
            ".funcignore".to_owned(),
            format!("{ZIP_NAME}\n").into_bytes(),
            false,
        ),
    ];
    for function in functions {
        files.push((
            format!("{}/function.json", function.name()),
            function_json(*function).as_bytes().to_vec(),
            false,
        ));
    }
    files.push((EXECUTABLE.to_owned(), executable.to_vec(), true));
    files
}

/// Writes the app for `functions` into `out`, with `executable` as its binary, and
/// `out/app.zip` when `zip` is set. Returns the paths written.
pub fn write(
    out: &Path,
    functions: &[Function],
    executable: &Path,
    zip: bool,
    extra: &[(String, Vec<u8>)],
) -> Result<Vec<PathBuf>, PackageError> {
    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |source| PackageError::Io { path, source }
    };
    let binary = fs::read(executable).map_err(io_error(executable))?;
    let mut files = files(functions, &binary);
    files.extend(
        extra
            .iter()
            .map(|(name, content)| (name.clone(), content.clone(), false)),
    );
    let mut written = Vec::new();
    for (name, content, executable) in &files {
        let path = out.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        fs::write(&path, content).map_err(io_error(&path))?;
        if *executable {
            make_executable(&path).map_err(io_error(&path))?;
        }
        written.push(path);
    }
    if zip {
        let path = out.join(ZIP_NAME);
        write_zip(&path, &files)?;
        written.push(path);
    }
    Ok(written)
}

fn write_zip(path: &Path, files: &[(String, Vec<u8>, bool)]) -> Result<(), PackageError> {
    let zip_error = |source| PackageError::Zip {
        path: path.to_owned(),
        source,
    };
    let file = fs::File::create(path).map_err(|source| PackageError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut archive = zip::ZipWriter::new(file);
    for (name, content, executable) in files {
        // Zip deploy on Linux keeps the Unix mode bits: the host must be able to exec the binary.
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(if *executable { 0o755 } else { 0o644 });
        archive
            .start_file(name.as_str(), options)
            .map_err(zip_error)?;
        archive
            .write_all(content)
            .map_err(|source| PackageError::Io {
                path: path.to_owned(),
                source,
            })?;
    }
    archive.finish().map_err(zip_error)?;
    Ok(())
}

#[cfg(unix)]
fn make_executable(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_functions_by_name_in_any_case() {
        assert_eq!(select(None).unwrap().len(), 5);
        assert_eq!(
            select(Some("runstatuschanged, ModelDeployed,RunStatusChanged")).unwrap(),
            [Function::RunStatusChanged, Function::ModelDeployed]
        );
        assert!(
            matches!(select(Some("RunCompleted,Nope")), Err(PackageError::UnknownFunction(name)) if name == "Nope")
        );
        assert!(matches!(
            select(Some(" , ")),
            Err(PackageError::NoFunctions)
        ));
    }

    #[test]
    fn embedded_definitions_are_event_grid_triggers() {
        for function in Function::ALL {
            let definition: serde_json::Value =
                serde_json::from_str(function_json(function)).unwrap();
            assert_eq!(definition["bindings"][0]["type"], "eventGridTrigger");
        }
        let host: serde_json::Value = serde_json::from_str(HOST_JSON).unwrap();
        assert_eq!(
            host["customHandler"]["description"]["defaultExecutablePath"],
            EXECUTABLE
        );
    }
}
