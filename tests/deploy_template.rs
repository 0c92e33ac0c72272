//! No Bicep compiler or Azure CLI can be installed where this project is built, so nothing here
//! compiles, validates or deploys `deploy/main.bicep`. These are structural checks: they read the
//! template and `deploy/main.parameters.json` as text, through a small reader that knows Bicep's
//! strings, comments and brackets, its `param`, `var` and `resource` declarations, and object
//! literals. They catch what would otherwise break unnoticed until someone deploys (a setting
//! Flex Consumption refuses, a lost role, a wrong filter, a parameter the example file misnames),
//! not what only Azure can tell (an unknown property, a region without Flex Consumption, a
//! runtime version Azure does not offer). `az bicep build` and `az deployment group what-if` stay
//! the real checks; deploy/README.md says how to run them.
//!
//! Checked: brackets balance outside strings and comments; every parameter has a one-line
//! `@description` and agrees with the parameters file; the Flex Consumption plan (FC1) and its
//! `functionAppConfig` (runtime `custom` 1.0, 512 MB instances, a deployment container reached
//! with the app's identity); the app settings of each plan, worked out from the template's
//! `concat(...)` (no `FUNCTIONS_WORKER_RUNTIME` on Flex, `custom` on Premium and Dedicated) and
//! each one documented; the three role assignments and their built-in role ids; one
//! `AzureFunction` subscription per function, made only when asked; the `runStatusFilter` choices,
//! with Azure's model-monitor filter word for word; and no secret in either file.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

use aml_events::{
    Function,
    events::monitor_breach::{BREACH_PHRASE, BREACH_TAG},
};
use serde_json::Value;

const TEMPLATE: &str = "deploy/main.bicep";
const PARAMETERS: &str = "deploy/main.parameters.json";

/// App settings read by the Functions platform rather than by `aml-handlers`.
const PLATFORM_SETTINGS: [&str; 9] = [
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "AzureWebJobsStorage__credential",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_RUN_FROM_PACKAGE",
];

/// Settings Flex Consumption refuses or ignores: the runtime and the package live in
/// `functionAppConfig` there.
/// See <https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations>
/// and <https://learn.microsoft.com/azure/azure-functions/deployment-zip-push>.
const NOT_ON_FLEX: [&str; 5] = [
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
];

/// Settings that hold secrets: in the template, their value may only come from a `@secure()`
/// parameter.
const SECRET_SETTINGS: [&str; 6] = [
    "AML_WEBHOOK_KEY",
    "AML_NOTIFY_URL",
    "AML_NOTIFY_PAGERDUTY_KEY",
    "AML_SMOKE_TEST_KEY",
    "AZURE_CLIENT_SECRET",
    "IDENTITY_HEADER",
];

/// Text that only a real credential would contain.
const SECRET_MARKERS: [&str; 7] = [
    "SharedAccessSignature=",
    "sig=",
    "hooks.slack.com/services/",
    "webhook.office.com/",
    "-----BEGIN",
    "client_secret=",
    "code=",
];

/// Built-in role ids, as Azure lists them:
/// <https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/ai-machine-learning#azureml-data-scientist>,
/// <https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage>.
const AML_DATA_SCIENTIST: &str = "f6c7c914-8db3-469d-8ca1-694a8f32e121";
const STORAGE_BLOB_DATA_OWNER: &str = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
const STORAGE_TABLE_DATA_CONTRIBUTOR: &str = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3";

/// Azure's advanced filter for model-monitor breaches, word for word.
/// See <https://learn.microsoft.com/azure/machine-learning/how-to-monitor-model-performance>.
const MONITOR_BREACH_KEY: &str = "data.RunTags.azureml_modelmonitor_threshold_breached";
const MONITOR_BREACH_VALUE: &str =
    "has failed due to one or more features violating metric thresholds";

/// `Microsoft.Web/sites` takes `functionAppConfig` from this API version on.
const FUNCTION_APP_CONFIG_API: &str = "2023-12-01";

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{relative}: cannot read {}: {error}", path.display()))
}

fn read_json(relative: &str) -> Value {
    serde_json::from_str(&read(relative))
        .unwrap_or_else(|error| panic!("{relative}: not valid JSON: {error}"))
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte].matches('\n').count() + 1
}

/// The template with every string literal (including the `${` and `}` around interpolations)
/// and every comment blanked out, byte for byte, so offsets and line numbers stay the same.
/// Code inside an interpolation is kept: its brackets must balance too.
fn code_only(text: &str) -> String {
    enum Ctx {
        Str,
        Interp { braces: usize },
    }
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut stack: Vec<Ctx> = Vec::new();
    let blank = |out: &mut Vec<u8>, at: usize| {
        if out[at] != b'\n' {
            out[at] = b' ';
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        match stack.last_mut() {
            Some(Ctx::Str) => {
                if rest.starts_with(b"\\") {
                    blank(&mut out, i);
                    if i + 1 < bytes.len() {
                        blank(&mut out, i + 1);
                    }
                    i += 2;
                    continue;
                } else if rest.starts_with(b"${") {
                    blank(&mut out, i);
                    blank(&mut out, i + 1);
                    stack.push(Ctx::Interp { braces: 0 });
                    i += 2;
                    continue;
                } else if rest[0] == b'\'' {
                    stack.pop();
                } else {
                    assert!(
                        rest[0] != b'\n',
                        "{TEMPLATE}:{}: string literal runs past the end of the line",
                        line_of(text, i)
                    );
                }
                blank(&mut out, i);
            }
            top => {
                if rest.starts_with(b"//") {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        blank(&mut out, i);
                        i += 1;
                    }
                    continue;
                } else if rest.starts_with(b"/*") {
                    let end = text[i + 2..]
                        .find("*/")
                        .map(|at| i + 2 + at + 2)
                        .unwrap_or_else(|| {
                            panic!("{TEMPLATE}:{}: unterminated comment", line_of(text, i))
                        });
                    (i..end).for_each(|at| blank(&mut out, at));
                    i = end;
                    continue;
                } else if rest.starts_with(b"'''") {
                    panic!(
                        "{TEMPLATE}:{}: multi-line strings are not understood by this test",
                        line_of(text, i)
                    );
                } else if rest[0] == b'\'' {
                    blank(&mut out, i);
                    stack.push(Ctx::Str);
                } else if let Some(Ctx::Interp { braces }) = top {
                    if rest[0] == b'{' {
                        *braces += 1;
                    } else if rest[0] == b'}' {
                        if *braces == 0 {
                            blank(&mut out, i);
                            stack.pop();
                        } else {
                            *braces -= 1;
                        }
                    }
                }
            }
        }
        i += 1;
    }
    assert!(
        stack.is_empty(),
        "{TEMPLATE}: a string literal is not closed"
    );
    String::from_utf8(out).expect("blanking ASCII delimiters keeps the text UTF-8")
}

/// The byte just past the bracket that closes the one at `open` (in code-only text).
fn closing(code: &str, open: usize) -> usize {
    let (opener, closer) = match code.as_bytes()[open] {
        b'[' => (b'[', b']'),
        b'{' => (b'{', b'}'),
        b'(' => (b'(', b')'),
        other => panic!("closing() called on {:?}", other as char),
    };
    let mut depth = 0usize;
    for (at, byte) in code.bytes().enumerate().skip(open) {
        if byte == opener {
            depth += 1;
        } else if byte == closer {
            depth -= 1;
            if depth == 0 {
                return at + 1;
            }
        }
    }
    panic!("{TEMPLATE}:{}: bracket never closed", line_of(code, open));
}

/// The contents of the string literals in `text`, in order (no interpolations expected).
fn literals(text: &str) -> Vec<String> {
    text.split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[derive(Debug)]
struct Param {
    name: String,
    ty: String,
    /// The expression after `=`, if the parameter has a default.
    default: Option<String>,
    line: usize,
    /// The decorator lines above the declaration, top to bottom.
    decorators: Vec<String>,
}

impl Param {
    fn decorated(&self, decorator: &str) -> bool {
        self.decorators
            .iter()
            .any(|line| line.trim_start().starts_with(decorator))
    }
}

fn params(text: &str) -> BTreeMap<String, Param> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = BTreeMap::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(declaration) = line.strip_prefix("param ") else {
            continue;
        };
        let (head, default) = match declaration.split_once('=') {
            Some((head, default)) => (head, Some(default.trim().to_owned())),
            None => (declaration, None),
        };
        let mut words = head.split_whitespace();
        let (Some(name), Some(ty), None) = (words.next(), words.next(), words.next()) else {
            panic!("{TEMPLATE}:{}: cannot read `{line}`", index + 1);
        };
        let mut top = index;
        while top > 0 && !lines[top - 1].trim().is_empty() && !lines[top - 1].starts_with("//") {
            top -= 1;
        }
        let param = Param {
            name: name.to_owned(),
            ty: ty.to_owned(),
            default,
            line: index + 1,
            decorators: lines[top..index].iter().map(|l| (*l).to_owned()).collect(),
        };
        assert!(
            found.insert(name.to_owned(), param).is_none(),
            "{TEMPLATE}:{}: parameter `{name}` declared twice",
            index + 1
        );
    }
    assert!(!found.is_empty(), "{TEMPLATE}: no `param` found");
    found
}

/// Resource symbol -> (type, API version, line).
fn resources(text: &str) -> BTreeMap<String, (String, String, usize)> {
    let mut found = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let Some(declaration) = line.strip_prefix("resource ") else {
            continue;
        };
        let (symbol, rest) = declaration
            .split_once(' ')
            .unwrap_or_else(|| panic!("{TEMPLATE}:{}: cannot read `{line}`", index + 1));
        let quoted = literals(rest)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{TEMPLATE}:{}: resource without a type", index + 1));
        let (ty, version) = quoted
            .split_once('@')
            .unwrap_or_else(|| panic!("{TEMPLATE}:{}: `{quoted}` has no @api-version", index + 1));
        found.insert(
            symbol.to_owned(),
            (ty.to_owned(), version.to_owned(), index + 1),
        );
    }
    found
}

/// The function folders under `function-definitions/`.
fn function_folders() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("function-definitions");
    fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()))
        .map(|entry| {
            entry
                .expect("function-definitions/: unreadable entry")
                .path()
        })
        .filter(|path| path.join("function.json").is_file())
        .map(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .expect("function folder names are UTF-8")
                .to_owned()
        })
        .collect()
}

/// Byte offset where 1-based line `line` starts.
fn line_start(text: &str, line: usize) -> usize {
    text.lines().take(line - 1).map(|l| l.len() + 1).sum()
}

/// The whitespace-free form of `text`, for comparing short expressions.
fn compact(text: &str) -> String {
    text.split_whitespace().collect()
}

/// The offset of the `{` that opens resource `symbol`'s body.
fn resource_body(text: &str, code: &str, symbol: &str) -> usize {
    let (_, _, line) = resources(text)
        .remove(symbol)
        .unwrap_or_else(|| panic!("{TEMPLATE}: no resource `{symbol}`"));
    let start = line_start(text, line);
    start
        + code[start..]
            .find('{')
            .unwrap_or_else(|| panic!("{TEMPLATE}:{line}: resource `{symbol}` has no body"))
}

/// The value of `var name = ...`: (offset of its first byte, its text). A value that starts with
/// a bracket runs to the matching bracket; any other runs to the end of the line.
fn var_value<'a>(text: &'a str, code: &str, name: &str) -> (usize, &'a str) {
    let anchor = format!("\nvar {name} =");
    let at = code
        .find(&anchor)
        .unwrap_or_else(|| panic!("{TEMPLATE}: no `var {name}`"))
        + anchor.len();
    // Skip spaces in the text, not the code: a string literal is blank in the code.
    let start = at + (text[at..].len() - text[at..].trim_start_matches(' ').len());
    let end = match code.as_bytes()[start] {
        b'[' | b'{' => closing(code, start),
        _ => start + code[start..].find('\n').unwrap_or(code.len() - start),
    };
    (start, text[start..end].trim_end())
}

/// The entries of the object literal whose `{` is at `open`: key -> (offset of the value, value
/// text without the separating comma). Keys must be plain identifiers, as in this template.
fn entries(text: &str, code: &str, open: usize) -> BTreeMap<String, (usize, String)> {
    assert_eq!(code.as_bytes()[open], b'{', "entries() needs an object");
    let end = closing(code, open) - 1;
    let bytes = code.as_bytes();
    let mut keys: Vec<(String, usize, usize)> = Vec::new(); // key, where it starts, value start
    let mut depth = 0usize;
    let mut expect_key = true;
    let mut i = open + 1;
    while i < end {
        let byte = bytes[i];
        match byte {
            b'(' | b'[' | b'{' => {
                depth += 1;
                expect_key = false;
            }
            b')' | b']' | b'}' => depth -= 1,
            b'\n' | b',' if depth == 0 => expect_key = true,
            b' ' | b'\t' | b'\r' | b'\n' | b',' => {}
            _ if depth == 0 && expect_key && (byte.is_ascii_alphabetic() || byte == b'_') => {
                let start = i;
                while i < end && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let after = &code[i..end];
                let colon = i + (after.len() - after.trim_start_matches([' ', '\t']).len());
                assert_eq!(
                    bytes[colon],
                    b':',
                    "{TEMPLATE}:{}: `{}` is not followed by `:`",
                    line_of(text, start),
                    &code[start..i]
                );
                keys.push((code[start..i].to_owned(), start, colon + 1));
                expect_key = false;
                i = colon + 1;
                continue;
            }
            _ => expect_key = false,
        }
        i += 1;
    }
    let mut found = BTreeMap::new();
    for (index, (key, _, value_start)) in keys.iter().enumerate() {
        let value_end = keys.get(index + 1).map_or(end, |(_, next, _)| *next);
        let value = text[*value_start..value_end]
            .trim()
            .trim_end_matches(',')
            .trim_end();
        let offset =
            value_start + (text[*value_start..].len() - text[*value_start..].trim_start().len());
        assert!(
            found
                .insert(key.clone(), (offset, value.to_owned()))
                .is_none(),
            "{TEMPLATE}:{}: key `{key}` given twice",
            line_of(text, *value_start)
        );
    }
    found
}

/// The entry `key` of the object at `open`, which must be there.
fn entry(text: &str, code: &str, open: usize, key: &str) -> (usize, String) {
    entries(text, code, open).remove(key).unwrap_or_else(|| {
        panic!(
            "{TEMPLATE}:{}: the object has no `{key}`",
            line_of(text, open)
        )
    })
}

/// The text of entry `key` of the object at `open`, whitespace removed.
fn entry_compact(text: &str, code: &str, open: usize, key: &str) -> String {
    compact(&entry(text, code, open, key).1)
}

/// The app settings of a `[ { name: '...', value: ... } ... ]` list at `open`: name -> value text.
fn settings_list(text: &str, code: &str, open: usize) -> BTreeMap<String, String> {
    assert_eq!(code.as_bytes()[open], b'[', "settings_list() needs a list");
    let end = closing(code, open) - 1;
    let mut settings = BTreeMap::new();
    let mut at = open + 1;
    while let Some(found) = code[at..end].find('{') {
        let object = at + found;
        let fields = entries(text, code, object);
        let name = fields
            .get("name")
            .and_then(|(_, name)| literals(name).into_iter().next())
            .unwrap_or_else(|| {
                panic!(
                    "{TEMPLATE}:{}: app setting without a name",
                    line_of(text, object)
                )
            });
        let value = fields
            .get("value")
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("{TEMPLATE}: app setting {name} has no value"));
        assert!(
            settings.insert(name.clone(), value).is_none(),
            "{TEMPLATE}: app setting {name} is listed twice"
        );
        at = closing(code, object);
    }
    settings
}

/// The values `@allowed([...])` gives a parameter.
fn allowed(param: &Param) -> BTreeSet<String> {
    let decorators = param.decorators.join("\n");
    let at = decorators.find("@allowed([").unwrap_or_else(|| {
        panic!(
            "{TEMPLATE}:{}: `{}` needs @allowed([...])",
            param.line, param.name
        )
    });
    let end = at
        + decorators[at..]
            .find("])")
            .expect("@allowed([ is closed by ])");
    literals(&decorators[at..end]).into_iter().collect()
}

/// The parts of `text` (a slice of the template starting at `from`) separated by top-level commas.
fn split_top_level<'a>(text: &'a str, code: &str, from: usize) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (at, byte) in code[from..from + text.len()].bytes().enumerate() {
        match byte {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => {
                parts.push(text[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts
}

/// Whether a condition of the template's `appSettings` holds for `plan`.
fn holds(condition: &str, plan: &str) -> bool {
    let quoted = |prefix: &str| {
        condition
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix('\''))
    };
    match condition {
        "isFlex" => plan == "flex",
        "!isFlex" => plan != "flex",
        _ => match (quoted("plan == '"), quoted("plan != '")) {
            (Some(value), _) => plan == value,
            (_, Some(value)) => plan != value,
            _ => panic!("{TEMPLATE}: this test cannot evaluate the condition `{condition}`"),
        },
    }
}

/// The app settings each plan gets: the site's `appSettings: concat(...)` worked out per plan,
/// where each part is a settings `var`, `[]`, or `CONDITION ? PART : PART`.
fn app_settings_by_plan(text: &str, code: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let plans = allowed(&params(text)["plan"]);
    let anchor = "appSettings: concat(";
    let at = code
        .find(anchor)
        .unwrap_or_else(|| panic!("{TEMPLATE}: the site's app settings must be `{anchor}...)`"))
        + anchor.len();
    let end = closing(code, at - 1) - 1;
    let parts = split_top_level(&text[at..end], code, at);

    let list = |name: &str| -> BTreeMap<String, String> {
        match name {
            "[]" => BTreeMap::new(),
            _ => {
                let (open, _) = var_value(text, code, name);
                settings_list(text, code, open)
            }
        }
    };
    let mut by_plan = BTreeMap::new();
    for plan in &plans {
        let mut settings = BTreeMap::new();
        for part in &parts {
            let chosen = match part.split_once('?') {
                None => *part,
                Some((condition, branches)) => {
                    let (then, otherwise) = branches
                        .split_once(':')
                        .unwrap_or_else(|| panic!("{TEMPLATE}: `{part}` has no `:`"));
                    if holds(condition.trim(), plan) {
                        then.trim()
                    } else {
                        otherwise.trim()
                    }
                }
            };
            for (name, value) in list(chosen) {
                assert!(
                    settings.insert(name.clone(), value).is_none(),
                    "{TEMPLATE}: app setting {name} is set twice on plan {plan}"
                );
            }
        }
        by_plan.insert(plan.clone(), settings);
    }
    by_plan
}
#[test]
fn brackets_balance_outside_strings_and_comments() {
    let text = read(TEMPLATE);
    let code = code_only(&text);
    let mut open: Vec<(u8, usize)> = Vec::new();
    for (at, byte) in code.bytes().enumerate() {
        match byte {
            b'(' | b'[' | b'{' => open.push((byte, at)),
            b')' | b']' | b'}' => {
                let expected = match byte {
                    b')' => b'(',
                    b']' => b'[',
                    _ => b'{',
                };
                match open.pop() {
                    Some((opener, _)) if opener == expected => {}
                    Some((opener, from)) => panic!(
                        "{TEMPLATE}:{}: `{}` closes the `{}` opened on line {}",
                        line_of(&text, at),
                        byte as char,
                        opener as char,
                        line_of(&text, from)
                    ),
                    None => panic!(
                        "{TEMPLATE}:{}: `{}` closes nothing",
                        line_of(&text, at),
                        byte as char
                    ),
                }
            }
            _ => {}
        }
    }
    if let Some((opener, from)) = open.pop() {
        panic!(
            "{TEMPLATE}:{}: `{}` is never closed",
            line_of(&text, from),
            opener as char
        );
    }
}

#[test]
fn every_parameter_is_described_and_matches_the_parameters_file() {
    let text = read(TEMPLATE);
    let declared = params(&text);
    for param in declared.values() {
        let above = param.decorators.last().map(|line| line.trim_start());
        assert!(
            above.is_some_and(|line| line.starts_with("@description('") && line.ends_with("')")),
            "{TEMPLATE}:{}: parameter `{}` needs a one-line @description(...) right above it",
            param.line,
            param.name
        );
        assert!(
            ["string", "int", "bool", "array", "object"].contains(&param.ty.as_str()),
            "{TEMPLATE}:{}: parameter `{}` has unexpected type `{}`",
            param.line,
            param.name,
            param.ty
        );
    }

    let file = read_json(PARAMETERS);
    assert!(
        file["$schema"]
            .as_str()
            .is_some_and(|schema| schema.ends_with("/deploymentParameters.json#")),
        "{PARAMETERS}: `$schema` must be the ARM deploymentParameters schema"
    );
    assert!(
        file["contentVersion"].is_string(),
        "{PARAMETERS}: `contentVersion` is missing"
    );
    let given = file["parameters"]
        .as_object()
        .unwrap_or_else(|| panic!("{PARAMETERS}: `parameters` is missing or not an object"));

    for (name, entry) in given {
        let param = declared
            .get(name)
            .unwrap_or_else(|| panic!("{PARAMETERS}: `{name}` is not a parameter of {TEMPLATE}"));
        let value = entry
            .get("value")
            .unwrap_or_else(|| panic!("{PARAMETERS}: `{name}` has no `value`"));
        let fits = match param.ty.as_str() {
            "string" => value.is_string(),
            "int" => value.is_i64(),
            "bool" => value.is_boolean(),
            "array" => value.is_array(),
            _ => value.is_object(),
        };
        assert!(
            fits,
            "{PARAMETERS}: `{name}` must be a JSON {} to match {TEMPLATE}:{}",
            param.ty, param.line
        );
        assert!(
            !param.decorated("@secure()"),
            "{PARAMETERS}: `{name}` is @secure(): pass it on the command line, never in this file"
        );
        // A value outside @allowed fails the deployment: catch it here.
        if param.decorated("@allowed(") {
            let allowed = allowed(param);
            let values: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for value in values {
                assert!(
                    value.as_str().is_some_and(|value| allowed.contains(value)),
                    "{PARAMETERS}: `{name}` = {value} is not one of {allowed:?}"
                );
            }
        }
    }
    for param in declared.values() {
        if param.default.is_none() {
            assert!(
                given.contains_key(&param.name),
                "{PARAMETERS}: `{}` has no default in {TEMPLATE}:{}, so this file must give it",
                param.name,
                param.line
            );
        }
    }
}

#[test]
fn functions_default_to_every_definition_but_v1_drift() {
    let text = read(TEMPLATE);
    let lines: Vec<&str> = text.lines().collect();
    let declared = params(&text);
    let functions = declared
        .get("functions")
        .unwrap_or_else(|| panic!("{TEMPLATE}: no `functions` parameter"));
    assert_eq!(
        functions.ty, "array",
        "{TEMPLATE}:{}: `functions` is an array",
        functions.line
    );

    // The default spans the lines after `param functions array = [` up to the closing `]`.
    assert_eq!(
        functions.default.as_deref(),
        Some("["),
        "{TEMPLATE}:{}: write the default of `functions` as a list, one name per line",
        functions.line
    );
    let default: BTreeSet<String> = lines[functions.line..]
        .iter()
        .take_while(|line| line.trim() != "]")
        .flat_map(|line| literals(line))
        .collect();

    let folders = function_folders();
    assert_eq!(
        allowed(functions),
        folders,
        "{TEMPLATE}: @allowed on `functions` must be the folders of function-definitions/"
    );
    // DatasetDriftDetected comes only from v1 dataset monitors, retired on 2025-09-01, and Azure's
    // docs say not to subscribe to it: it stays allowed but is not subscribed by default.
    // See <https://learn.microsoft.com/azure/machine-learning/how-to-monitor-model-performance>.
    let v1_drift = Function::DatasetDriftDetected.name();
    let mut expected = folders.clone();
    expected.remove(v1_drift);
    assert_eq!(
        default, expected,
        "{TEMPLATE}: the default `functions` must be the folders of function-definitions/ \
         without {v1_drift}"
    );
    assert!(
        functions.decorators.join(" ").contains(v1_drift),
        "{TEMPLATE}: the description of `functions` must say why {v1_drift} is left out"
    );

    let code = code_only(&text);
    let (open, _) = var_value(&text, &code, "advancedFilters");
    let filters = entries(&text, &code, open);
    for function in &folders {
        assert!(
            filters.contains_key(function),
            "{TEMPLATE}: `advancedFilters` has no entry for {function}"
        );
    }
}

#[test]
fn declares_the_resources_the_deployment_needs() {
    let text = read(TEMPLATE);
    let declared = resources(&text);
    let types: BTreeSet<&str> = declared.values().map(|(ty, _, _)| ty.as_str()).collect();
    for required in [
        "Microsoft.Storage/storageAccounts",
        "Microsoft.Storage/storageAccounts/blobServices/containers",
        "Microsoft.Web/serverfarms",
        "Microsoft.Web/sites",
        "Microsoft.Authorization/roleAssignments",
        "Microsoft.EventGrid/systemTopics",
        "Microsoft.EventGrid/systemTopics/eventSubscriptions",
        "Microsoft.MachineLearningServices/workspaces",
    ] {
        assert!(
            types.contains(required),
            "{TEMPLATE}: no resource of type {required}"
        );
    }
    for (symbol, (ty, version, line)) in &declared {
        let date = version.strip_suffix("-preview").unwrap_or(version);
        let shape = date.len() == 10
            && date.bytes().enumerate().all(|(at, b)| {
                if at == 4 || at == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        assert!(
            shape,
            "{TEMPLATE}:{line}: `{symbol}` ({ty}) has API version `{version}`, not YYYY-MM-DD"
        );
        // Dates in YYYY-MM-DD compare as text.
        if ty.starts_with("Microsoft.Web/") {
            assert!(
                date >= FUNCTION_APP_CONFIG_API,
                "{TEMPLATE}:{line}: `{symbol}` needs API version {FUNCTION_APP_CONFIG_API} or \
                 later for Flex Consumption's functionAppConfig"
            );
        }
    }

    let compact = compact(&text);
    let (workspace_type, _, workspace_line) = &declared["workspace"];
    assert_eq!(
        workspace_type,
        "Microsoft.MachineLearningServices/workspaces"
    );
    assert!(
        text.lines()
            .nth(workspace_line - 1)
            .is_some_and(|line| line.contains(" existing = {")),
        "{TEMPLATE}:{workspace_line}: the workspace must be `existing`: the template never creates it"
    );
    for (what, needle) in [
        ("a Linux function app", "kind:'functionapp,linux'"),
        (
            "a system-assigned identity",
            "identity:{type:'SystemAssigned'}",
        ),
        ("a Linux plan", "reserved:true"),
        ("HTTPS only", "httpsOnly:true"),
        (
            "the workspace's system topic",
            "topicType:'Microsoft.MachineLearningServices.Workspaces'",
        ),
        ("the workspace as topic source", "source:workspace.id"),
        (
            "Azure Function destinations",
            "endpointType:'AzureFunction'",
        ),
        (
            "a blob dead-letter destination",
            "endpointType:'StorageBlob'",
        ),
        (
            "a retry policy",
            "retryPolicy:{maxDeliveryAttempts:maxDeliveryAttempts",
        ),
    ] {
        assert!(
            compact.contains(needle),
            "{TEMPLATE}: expected {what} (`{needle}`, whitespace ignored)"
        );
    }
    for output in [
        "functionAppName",
        "functionAppPrincipalId",
        "systemTopicName",
        "storageAccountName",
    ] {
        assert!(
            text.lines()
                .any(|line| line.starts_with(&format!("output {output} "))),
            "{TEMPLATE}: no `output {output}`"
        );
    }
}

#[test]
fn flex_consumption_is_the_default_plan() {
    let text = read(TEMPLATE);
    let code = code_only(&text);
    let declared = params(&text);

    // `plan`: flex by default, and each choice has a SKU and a kind.
    let plan = &declared["plan"];
    assert_eq!(plan.ty, "string");
    assert_eq!(
        plan.default.as_deref(),
        Some("'flex'"),
        "{TEMPLATE}:{}: Flex Consumption is the default plan",
        plan.line
    );
    let plans = allowed(plan);
    assert_eq!(
        plans,
        ["dedicated", "flex", "premium"].map(String::from).into(),
        "{TEMPLATE}:{}: `plan` offers flex, premium and dedicated",
        plan.line
    );
    assert!(
        text.lines()
            .any(|line| line == "var isFlex = plan == 'flex'"),
        "{TEMPLATE}: `var isFlex = plan == 'flex'` is what the app settings test evaluates"
    );
    let (skus_open, _) = var_value(&text, &code, "planSkus");
    let skus: BTreeMap<String, String> = entries(&text, &code, skus_open)
        .into_iter()
        .map(|(plan, (_, sku))| (plan, compact(&sku)))
        .collect();
    assert_eq!(
        skus.keys().cloned().collect::<BTreeSet<_>>(),
        plans,
        "{TEMPLATE}: `planSkus` must have one SKU per `plan` value"
    );
    assert_eq!(skus["flex"], "{name:'FC1',tier:'FlexConsumption'}");
    assert_eq!(skus["premium"], "{name:'EP1',tier:'ElasticPremium'}");
    let (kinds_open, _) = var_value(&text, &code, "planKinds");
    let kinds = entries(&text, &code, kinds_open);
    assert_eq!(
        kinds.keys().cloned().collect::<BTreeSet<_>>(),
        plans,
        "{TEMPLATE}: `planKinds` must have one kind per `plan` value"
    );
    assert_eq!(kinds["flex"].1, "'functionapp'");

    let hosting = resource_body(&text, &code, "hostingPlan");
    assert_eq!(
        entry_compact(&text, &code, hosting, "sku"),
        "planSkus[plan]"
    );
    assert_eq!(
        entry_compact(&text, &code, hosting, "kind"),
        "planKinds[plan]"
    );
    let (properties, _) = entry(&text, &code, hosting, "properties");
    assert_eq!(
        entry_compact(&text, &code, properties, "reserved"),
        "true",
        "{TEMPLATE}: reserved: true is what makes the plan Linux"
    );

    // The site: Flex takes functionAppConfig, the classic plans none.
    let site = resource_body(&text, &code, "functionApp");
    assert_eq!(
        entry_compact(&text, &code, site, "kind"),
        "'functionapp,linux'"
    );
    let (site_properties, _) = entry(&text, &code, site, "properties");
    assert_eq!(
        entry_compact(&text, &code, site_properties, "functionAppConfig"),
        "isFlex?flexAppConfig:null"
    );

    // functionAppConfig: runtime custom 1.0, 512 MB instances, the package in a blob container
    // reached with the app's own identity.
    // See <https://learn.microsoft.com/azure/azure-functions/functions-infrastructure-as-code>.
    let (config, _) = var_value(&text, &code, "flexAppConfig");
    let (runtime, _) = entry(&text, &code, config, "runtime");
    assert_eq!(entry_compact(&text, &code, runtime, "name"), "'custom'");
    assert_eq!(entry_compact(&text, &code, runtime, "version"), "'1.0'");
    let (scale, _) = entry(&text, &code, config, "scaleAndConcurrency");
    assert_eq!(
        entry_compact(&text, &code, scale, "instanceMemoryMB"),
        "512"
    );
    assert_eq!(
        entry_compact(&text, &code, scale, "maximumInstanceCount"),
        "maximumInstanceCount"
    );
    let maximum = &declared["maximumInstanceCount"];
    assert_eq!(maximum.ty, "int");
    assert!(
        maximum.decorated("@maxValue(1000)"),
        "{TEMPLATE}:{}: Flex Consumption scales to 1000 instances at most",
        maximum.line
    );
    let (deployment, _) = entry(&text, &code, config, "deployment");
    let (storage, _) = entry(&text, &code, deployment, "storage");
    assert_eq!(
        entry_compact(&text, &code, storage, "type"),
        "'blobContainer'"
    );
    assert_eq!(
        entry_compact(&text, &code, storage, "value"),
        "'${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'",
        "{TEMPLATE}: the package container is a container URL in the app's storage account"
    );
    let (authentication, _) = entry(&text, &code, storage, "authentication");
    assert_eq!(
        entry_compact(&text, &code, authentication, "type"),
        "'SystemAssignedIdentity'",
        "{TEMPLATE}: the package is read with the app's identity, not an account key"
    );
    let container = resource_body(&text, &code, "deploymentContainer");
    assert_eq!(
        entry_compact(&text, &code, container, "name"),
        "deploymentContainerName",
        "{TEMPLATE}: the template creates the deployment container it names"
    );
    assert_eq!(
        entry_compact(&text, &code, container, "parent"),
        "blobService"
    );
}

#[test]
fn app_settings_fit_each_plan_and_are_documented() {
    let text = read(TEMPLATE);
    let code = code_only(&text);
    let by_plan = app_settings_by_plan(&text, &code);

    let flex = &by_plan["flex"];
    for refused in NOT_ON_FLEX {
        assert!(
            !flex.contains_key(refused),
            "{TEMPLATE}: Flex Consumption must not get app setting {refused}: its runtime and \
             package live in functionAppConfig"
        );
    }
    for classic in ["premium", "dedicated"] {
        let settings = &by_plan[classic];
        for (name, value) in [
            ("FUNCTIONS_WORKER_RUNTIME", "'custom'"),
            ("FUNCTIONS_EXTENSION_VERSION", "'~4'"),
            // Zip deploy keeps the package in /home/data/SitePackages, and redeploying the
            // template (which rewrites the app settings) keeps it.
            ("WEBSITE_RUN_FROM_PACKAGE", "'1'"),
        ] {
            assert_eq!(
                settings.get(name).map(String::as_str),
                Some(value),
                "{TEMPLATE}: plan {classic} needs app setting {name} = {value}"
            );
        }
    }
    for name in [
        "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
        "WEBSITE_CONTENTSHARE",
    ] {
        assert!(
            by_plan["premium"].contains_key(name),
            "{TEMPLATE}: Premium keeps its content share on Azure Files: {name} is missing"
        );
        assert!(
            !by_plan["dedicated"].contains_key(name),
            "{TEMPLATE}: Dedicated plans need no content share: drop {name}"
        );
    }

    let local = read_json("local.settings.example.json");
    let documented = local["Values"]
        .as_object()
        .expect("local.settings.example.json has Values");
    let declared = params(&text);
    for (plan, settings) in &by_plan {
        // Host storage through the identity: no account key in AzureWebJobsStorage on any plan.
        assert!(
            !settings.contains_key("AzureWebJobsStorage"),
            "{TEMPLATE}: plan {plan}: AzureWebJobsStorage must be identity-based \
             (AzureWebJobsStorage__*), not a connection string"
        );
        for (name, value) in [
            (
                "AzureWebJobsStorage__blobServiceUri",
                "storage.properties.primaryEndpoints.blob",
            ),
            (
                "AzureWebJobsStorage__queueServiceUri",
                "storage.properties.primaryEndpoints.queue",
            ),
            (
                "AzureWebJobsStorage__tableServiceUri",
                "storage.properties.primaryEndpoints.table",
            ),
            ("AzureWebJobsStorage__credential", "'managedidentity'"),
            ("AML_WORKSPACES", "workspace.id"),
        ] {
            assert_eq!(
                settings.get(name).map(String::as_str),
                Some(value),
                "{TEMPLATE}: plan {plan}: app setting {name} must be {value}"
            );
        }
        for (name, value) in settings {
            assert!(
                documented.contains_key(name) || PLATFORM_SETTINGS.contains(&name.as_str()),
                "{TEMPLATE}: app setting {name} is neither documented in \
                 local.settings.example.json nor a platform setting"
            );
            if SECRET_SETTINGS.contains(&name.as_str()) {
                assert!(
                    declared
                        .get(value)
                        .is_some_and(|param| param.decorated("@secure()")),
                    "{TEMPLATE}: app setting {name} holds a secret: its value must be a @secure() \
                     parameter, not `{value}`"
                );
            }
        }
    }
}

#[test]
fn the_app_identity_gets_three_roles() {
    let text = read(TEMPLATE);
    let code = code_only(&text);
    let mut granted = BTreeSet::new();
    for (symbol, (ty, _, line)) in resources(&text) {
        if ty != "Microsoft.Authorization/roleAssignments" {
            continue;
        }
        let body = resource_body(&text, &code, &symbol);
        let scope = entry_compact(&text, &code, body, "scope");
        let (properties, _) = entry(&text, &code, body, "properties");
        assert_eq!(
            entry_compact(&text, &code, properties, "principalId"),
            "functionApp.identity.principalId",
            "{TEMPLATE}:{line}: `{symbol}` is for the app's identity"
        );
        assert_eq!(
            entry_compact(&text, &code, properties, "principalType"),
            "'ServicePrincipal'"
        );
        let definition = entry_compact(&text, &code, properties, "roleDefinitionId");
        let role_var = definition
            .strip_prefix("subscriptionResourceId('Microsoft.Authorization/roleDefinitions',")
            .and_then(|rest| rest.strip_suffix(')'))
            .unwrap_or_else(|| {
                panic!(
                    "{TEMPLATE}:{line}: `{symbol}` must name a built-in role by a var: \
                     subscriptionResourceId('Microsoft.Authorization/roleDefinitions', VAR)"
                )
            });
        let name = entry_compact(&text, &code, body, "name");
        assert!(
            name.starts_with("guid(") && name.contains(role_var),
            "{TEMPLATE}:{line}: `{symbol}`'s name must be a guid(...) of {role_var}, so each role \
             assignment has its own"
        );
        let (_, value) = var_value(&text, &code, role_var);
        let guid = literals(value)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{TEMPLATE}: `var {role_var}` must be a role id in quotes"));
        assert!(
            granted.insert((scope, guid)),
            "{TEMPLATE}:{line}: `{symbol}` repeats a role assignment"
        );
    }
    let expected: BTreeSet<(String, String)> = [
        ("workspace", AML_DATA_SCIENTIST),
        ("storage", STORAGE_BLOB_DATA_OWNER),
        ("storage", STORAGE_TABLE_DATA_CONTRIBUTOR),
    ]
    .into_iter()
    .map(|(scope, role)| (scope.to_owned(), role.to_owned()))
    .collect();
    assert_eq!(
        granted, expected,
        "{TEMPLATE}: the app's identity needs AzureML Data Scientist on the workspace, and Storage \
         Blob Data Owner (host storage, deployment container) and Storage Table Data Contributor \
         (the ledger) on its storage account"
    );
}

#[test]
fn one_subscription_per_function_once_asked() {
    let text = read(TEMPLATE);
    let code = code_only(&text);
    let declared = params(&text);
    let create = &declared["createSubscriptions"];
    assert_eq!(create.ty, "bool");
    assert_eq!(
        create.default.as_deref(),
        Some("false"),
        "{TEMPLATE}:{}: subscriptions come in a second deployment, after the code is published",
        create.line
    );

    let (symbol, (_, _, line)) = resources(&text)
        .into_iter()
        .find(|(_, (ty, _, _))| ty == "Microsoft.EventGrid/systemTopics/eventSubscriptions")
        .unwrap_or_else(|| panic!("{TEMPLATE}: no event subscription resource"));
    let declaration = text.lines().nth(line - 1).unwrap_or_default();
    let variable = declaration
        .split_once("[for ")
        .and_then(|(_, rest)| rest.split_once(" in functions: if (createSubscriptions)"))
        .map(|(variable, _)| variable.trim())
        .unwrap_or_else(|| {
            panic!(
                "{TEMPLATE}:{line}: `{symbol}` must be `[for NAME in functions: if (createSubscriptions) {{`"
            )
        });

    let body = resource_body(&text, &code, &symbol);
    let (properties, _) = entry(&text, &code, body, "properties");
    let (filter, _) = entry(&text, &code, properties, "filter");
    assert_eq!(
        entry_compact(&text, &code, filter, "includedEventTypes"),
        format!("['Microsoft.MachineLearningServices.${{{variable}}}']"),
        "{TEMPLATE}: includedEventTypes must hold exactly the function's own event type"
    );
    assert_eq!(
        entry_compact(&text, &code, filter, "advancedFilters"),
        format!("advancedFilters[{variable}]")
    );
    let (destination, _) = entry(&text, &code, properties, "destination");
    assert_eq!(
        entry_compact(&text, &code, destination, "endpointType"),
        "'AzureFunction'"
    );
    let (target, _) = entry(&text, &code, destination, "properties");
    assert_eq!(
        entry_compact(&text, &code, target, "resourceId"),
        format!("'${{functionApp.id}}/functions/${{{variable}}}'"),
        "{TEMPLATE}: the destination is the function's resource id, .../sites/<app>/functions/<Function>"
    );
    let (dead_letter, _) = entry(&text, &code, properties, "deadLetterDestination");
    assert_eq!(
        entry_compact(&text, &code, dead_letter, "endpointType"),
        "'StorageBlob'"
    );
}

#[test]
fn run_status_filter_offers_all_failures_and_azures_monitor_breach_filter() {
    let text = read(TEMPLATE);
    let code = code_only(&text);
    let declared = params(&text);
    let choice = &declared["runStatusFilter"];
    assert_eq!(choice.ty, "string");
    let choices = allowed(choice);
    assert_eq!(
        choices,
        ["all", "failures", "monitorBreach"]
            .map(String::from)
            .into()
    );
    assert_eq!(choice.default.as_deref(), Some("'failures'"));
    assert_eq!(
        declared["notifyRunStatuses"].default.as_deref(),
        Some("'Failed,Canceled'")
    );

    let (open, _) = var_value(&text, &code, "runStatusFilters");
    let filters = entries(&text, &code, open);
    assert_eq!(
        filters.keys().cloned().collect::<BTreeSet<_>>(),
        choices,
        "{TEMPLATE}: `runStatusFilters` needs one entry per `runStatusFilter` value"
    );
    assert_eq!(filters["all"].1, "[]", "{TEMPLATE}: `all` filters nothing");

    let failures = compact(&filters["failures"].1);
    for needle in [
        "operatorType:'StringIn'",
        "key:'data.runStatus'",
        "values:map(split(notifyRunStatuses,','),status=>trim(status))",
    ] {
        assert!(
            failures.contains(needle),
            "{TEMPLATE}: `failures` must be StringIn on data.runStatus with the statuses of \
             notifyRunStatuses (`{needle}`)"
        );
    }

    // Azure's own filter, word for word, and the same words the code recognises a breach by.
    assert_eq!(
        literals(&filters["monitorBreach"].1),
        ["StringContains", MONITOR_BREACH_KEY, MONITOR_BREACH_VALUE],
        "{TEMPLATE}: `monitorBreach` must be Azure's filter: StringContains on {MONITOR_BREACH_KEY}"
    );
    assert_eq!(MONITOR_BREACH_VALUE, BREACH_PHRASE);
    assert_eq!(
        MONITOR_BREACH_KEY.strip_prefix("data.RunTags."),
        Some(BREACH_TAG)
    );

    let (open, _) = var_value(&text, &code, "advancedFilters");
    assert_eq!(
        compact(&entry(&text, &code, open, "RunStatusChanged").1),
        "runStatusFilters[runStatusFilter]"
    );
}

#[test]
fn no_secret_is_written_into_the_files() {
    let text = read(TEMPLATE);
    for (at, _) in text.match_indices("AccountKey=") {
        assert!(
            text[at + "AccountKey=".len()..].starts_with("${"),
            "{TEMPLATE}:{}: an account key must come from listKeys() at deploy time",
            line_of(&text, at)
        );
    }
    for marker in SECRET_MARKERS {
        assert!(
            !text.contains(marker),
            "{TEMPLATE}: contains `{marker}`, which only a credential would"
        );
    }
    for param in params(&text).values() {
        if param.decorated("@secure()") {
            assert!(
                matches!(param.default.as_deref(), None | Some("''")),
                "{TEMPLATE}:{}: @secure() parameter `{}` must default to '' or nothing",
                param.line,
                param.name
            );
        }
    }

    fn strings(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(text) => out.push(text.clone()),
            Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
            Value::Object(entries) => entries.values().for_each(|item| strings(item, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    strings(&read_json(PARAMETERS), &mut found);
    for value in found {
        for marker in SECRET_MARKERS.iter().chain(&["AccountKey="]) {
            assert!(
                !value.contains(marker),
                "{PARAMETERS}: `{value}` contains `{marker}`, which only a credential would"
            );
        }
    }
}
