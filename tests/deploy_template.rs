//! No Bicep compiler can be installed where this project is built, so this test reads
//! `deploy/main.bicep` and `deploy/main.parameters.json` as plain text and checks what would
//! otherwise break unnoticed until someone deploys.
//!
//! It checks that the brackets balance outside strings and comments; that every parameter has a
//! `@description` right above it and agrees with the example parameters file; that the resources,
//! the managed identity, the custom handler runtime and the event subscriptions are there; that
//! the default `functions` list is exactly the folders of `function-definitions/`, and every app
//! setting one that `local.settings.example.json` documents (or one the platform reads); and that
//! no secret is written into either file.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

use serde_json::Value;

const TEMPLATE: &str = "deploy/main.bicep";
const PARAMETERS: &str = "deploy/main.parameters.json";

/// App settings read by the Functions platform rather than by `aml-handlers`.
const PLATFORM_SETTINGS: [&str; 5] = [
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "AzureWebJobsStorage",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
];

/// Settings that hold secrets: in the template, their value may only come from a `@secure()`
/// parameter.
const SECRET_SETTINGS: [&str; 5] = [
    "AML_WEBHOOK_KEY",
    "AML_NOTIFY_URL",
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

/// The AzureML Data Scientist built-in role.
const AML_DATA_SCIENTIST: &str = "f6c7c914-8db3-469d-8ca1-694a8f32e121";

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

/// The original text of the bracketed block that follows the first `anchor` at or after `from`.
fn block_after<'a>(text: &'a str, code: &str, from: usize, anchor: &str) -> (usize, &'a str) {
    let at = from
        + code[from..]
            .find(anchor)
            .unwrap_or_else(|| panic!("{TEMPLATE}: `{anchor}` not found"));
    let open = at
        + code[at..]
            .find(['[', '{'])
            .unwrap_or_else(|| panic!("{TEMPLATE}: no bracket after `{anchor}`"));
    (open, &text[open..closing(code, open)])
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
fn functions_default_to_the_function_definitions() {
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

    let decorators = functions.decorators.join("\n");
    let allowed_at = decorators.find("@allowed([").unwrap_or_else(|| {
        panic!(
            "{TEMPLATE}:{}: `functions` needs @allowed([...]) so a misspelt name fails the deployment",
            functions.line
        )
    });
    let allowed_end = allowed_at
        + decorators[allowed_at..]
            .find("])")
            .expect("@allowed([ is closed by ])");
    let allowed: BTreeSet<String> = literals(&decorators[allowed_at..allowed_end])
        .into_iter()
        .collect();

    let folders = function_folders();
    assert_eq!(
        default, folders,
        "{TEMPLATE}: the default `functions` must be the folders of function-definitions/"
    );
    assert_eq!(
        allowed, folders,
        "{TEMPLATE}: @allowed on `functions` must be the folders of function-definitions/"
    );
    let filters = block_after(&text, &code_only(&text), 0, "var advancedFilters =").1;
    for function in &folders {
        assert!(
            filters.contains(&format!("{function}:")),
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
    }

    let compact: String = text.split_whitespace().collect();
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
        ("a Linux plan", "properties:{reserved:true}"),
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
        ("the role assignment on the workspace", "scope:workspace"),
        ("the AzureML Data Scientist role", AML_DATA_SCIENTIST),
        (
            "the role for a service principal",
            "principalType:'ServicePrincipal'",
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
    ] {
        assert!(
            text.lines()
                .any(|line| line.starts_with(&format!("output {output} "))),
            "{TEMPLATE}: no `output {output}`"
        );
    }
}

#[test]
fn one_subscription_per_function_for_its_own_event_type() {
    let text = read(TEMPLATE);
    let code = code_only(&text);
    let declared = resources(&text);
    let (symbol, (_, _, line)) = declared
        .iter()
        .find(|(_, (ty, _, _))| ty == "Microsoft.EventGrid/systemTopics/eventSubscriptions")
        .unwrap_or_else(|| panic!("{TEMPLATE}: no event subscription resource"));
    let declaration = text.lines().nth(line - 1).unwrap_or_default();
    let variable = declaration
        .split_once("[for ")
        .and_then(|(_, rest)| rest.split_once(" in functions: if (deploySubscriptions)"))
        .map(|(variable, _)| variable.trim())
        .unwrap_or_else(|| {
            panic!(
                "{TEMPLATE}:{line}: `{symbol}` must be `[for NAME in functions: if (deploySubscriptions) {{`"
            )
        });

    let start = text
        .lines()
        .take(line - 1)
        .map(|l| l.len() + 1)
        .sum::<usize>();
    let (_, event_types) = block_after(&text, &code, start, "includedEventTypes:");
    let expected = format!("'Microsoft.MachineLearningServices.${{{variable}}}'");
    assert_eq!(
        event_types
            .trim_matches(['[', ']'])
            .split_whitespace()
            .collect::<Vec<_>>(),
        vec![expected.as_str()],
        "{TEMPLATE}: includedEventTypes must hold exactly {expected}"
    );
    let (_, destination) = block_after(&text, &code, start, "destination:");
    assert!(
        destination.contains(&format!("'${{functionApp.id}}/functions/${{{variable}}}'")),
        "{TEMPLATE}: the destination must be the function named `{variable}` in the app"
    );
}

#[test]
fn app_settings_run_the_custom_handler_and_are_documented() {
    let text = read(TEMPLATE);
    let code = code_only(&text);
    let (open, block) = block_after(&text, &code, 0, "appSettings:");
    let block_code = &code[open..open + block.len()];

    let mut settings: BTreeMap<String, String> = BTreeMap::new();
    let mut at = 1;
    while let Some(found) = block_code[at..].find('{') {
        let object_start = at + found;
        let object_end = closing(block_code, object_start);
        let object = &block[object_start + 1..object_end - 1];
        let name = object
            .split_once("name:")
            .and_then(|(_, rest)| literals(rest).into_iter().next())
            .unwrap_or_else(|| panic!("{TEMPLATE}: app setting without a name: {object}"));
        let value = object
            .split_once("value:")
            .map(|(_, rest)| rest.trim().trim_end_matches([',', '}']).trim().to_owned())
            .unwrap_or_else(|| panic!("{TEMPLATE}: app setting {name} has no value"));
        assert!(
            settings.insert(name.clone(), value).is_none(),
            "{TEMPLATE}: app setting {name} set twice"
        );
        at = object_end;
    }

    assert_eq!(
        settings.get("FUNCTIONS_WORKER_RUNTIME").map(String::as_str),
        Some("'custom'"),
        "{TEMPLATE}: FUNCTIONS_WORKER_RUNTIME must be 'custom'"
    );
    assert_eq!(
        settings
            .get("FUNCTIONS_EXTENSION_VERSION")
            .map(String::as_str),
        Some("'~4'"),
        "{TEMPLATE}: FUNCTIONS_EXTENSION_VERSION must be '~4'"
    );
    for required in ["AzureWebJobsStorage", "AML_WORKSPACES"] {
        assert!(
            settings.contains_key(required),
            "{TEMPLATE}: app setting {required} is missing"
        );
    }

    let local = read_json("local.settings.example.json");
    let documented = local["Values"]
        .as_object()
        .expect("local.settings.example.json has Values");
    let declared = params(&text);
    for (name, value) in &settings {
        assert!(
            documented.contains_key(name) || PLATFORM_SETTINGS.contains(&name.as_str()),
            "{TEMPLATE}: app setting {name} is neither documented in local.settings.example.json \
             nor a platform setting"
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
