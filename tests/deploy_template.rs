//! Checks `deploy/main.bicep` and `deploy/main.parameters.json` by reading them. No Bicep compiler
//! or Azure CLI can be installed where this project is built, so nothing here compiles, validates
//! or deploys the template: [`bicep::Template`] (tests/bicep/) reads its text into declarations
//! and expressions, and each test is a list of checks against those. They catch what would
//! otherwise break unnoticed until someone deploys (a setting Flex Consumption refuses, a lost
//! role, a wrong filter, a parameter the example file misnames), not what only Azure can tell (an
//! unknown property, a region without Flex Consumption, a runtime version Azure does not offer).
//! `az bicep build` and `az deployment group what-if` stay the real checks; deploy/README.md says
//! how to run them.
//!
//! Checked: the template reads whole (brackets, strings and comments close); every parameter has
//! a one-line `@description` and agrees with the parameters file; the resources and outputs the
//! deployment needs; the Flex Consumption plan (FC1) and its `functionAppConfig` (runtime `custom`
//! 1.0, 512 MB instances, a deployment container reached with the app's identity); the app
//! settings of each plan, worked out from the site's `concat(...)` (no `FUNCTIONS_WORKER_RUNTIME`
//! on Flex, `custom` on Premium and Dedicated) and each one documented; the three role
//! assignments and their built-in role ids; one `AzureFunction` subscription per function, made
//! only when asked; the `runStatusFilter` choices, with Azure's model-monitor filter word for
//! word; and no secret in either file.
//!
//! The tables below hold one check a line, `PATH  EXPRESSION`: the name of a param (for its
//! default), a var or a resource, keys into its value, and the expression as the reader prints it.

mod bicep;

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

use aml_events::{
    Function,
    events::monitor_breach::{BREACH_PHRASE, BREACH_TAG},
};
use bicep::{Template, table};
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
const SECRET_SETTINGS: [&str; 7] = [
    "AML_WEBHOOK_KEY",
    "AML_NOTIFY_URL",
    "AML_NOTIFY_SECRET",
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

fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.into_iter().map(str::to_owned).collect()
}

/// The function folders under `function-definitions/`.
fn function_folders() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("function-definitions");
    let entries = fs::read_dir(&dir);
    let entries = entries.unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
    let paths = entries.map(|entry| {
        entry
            .expect("function-definitions/: unreadable entry")
            .path()
    });
    let folders = paths.filter(|path| path.join("function.json").is_file());
    let name = |path: &Path| path.file_name()?.to_str().map(str::to_owned);
    folders
        .map(|path| name(&path).expect("function folder names are UTF-8"))
        .collect()
}

/// The app settings `plan` gets, name -> value as printed: the site's `appSettings`, with each
/// `CONDITION ? A : B` decided for that plan.
fn app_settings(template: &Template, plan: &str) -> BTreeMap<String, String> {
    let list = template.at("functionApp.properties.siteConfig.appSettings");
    let mut settings = BTreeMap::new();
    for setting in template.items(list, &[("plan", plan)]) {
        let name = setting.at("name");
        let name = name
            .text()
            .unwrap_or_else(|| panic!("{}: not a plain name", name.loc));
        let first = settings.insert(name.to_owned(), setting.at("value").to_string());
        assert!(
            first.is_none(),
            "{}: app setting {name} set twice on plan {plan}",
            setting.loc
        );
    }
    settings
}

#[test]
fn the_template_reads_whole() {
    // Reading panics, with the line, on a bracket that never closes or closes another, a string
    // that runs past its line, and anything the reader does not know (see tests/bicep/mod.rs).
    let template = Template::read(TEMPLATE);
    for keyword in ["param", "var", "resource", "output"] {
        let found = template.all(keyword).next();
        assert!(found.is_some(), "{TEMPLATE}: no `{keyword}` read");
    }
}

#[test]
fn every_parameter_is_described_and_matches_the_parameters_file() {
    let template = Template::read(TEMPLATE);
    for param in template.all("param") {
        let above = param.decorators.last();
        assert!(
            above.is_some_and(|above| above.loc.line + 1 == param.loc.line)
                && above.is_some_and(|above| above.to_string().starts_with("description("))
                && param.description().is_some(),
            "{}: parameter `{}` needs a one-line @description('...') right above it",
            param.loc,
            param.name
        );
        assert!(
            ["string", "int", "bool", "array", "object"].contains(&param.ty.as_str()),
            "{}: parameter `{}` has unexpected type `{}`",
            param.loc,
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
        let param = template.all("param").find(|param| &param.name == name);
        let param = param.unwrap_or_else(|| panic!("{PARAMETERS}: `{name}` is not in {TEMPLATE}"));
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
        let (ty, loc) = (&param.ty, param.loc);
        assert!(
            fits,
            "{PARAMETERS}: `{name}` must be a JSON {ty} to match {loc}"
        );
        assert!(
            param.decorator("secure").is_none(),
            "{PARAMETERS}: `{name}` is @secure(): pass it on the command line, never in this file"
        );
        // A value outside @allowed fails the deployment: catch it here.
        if param.decorator("allowed").is_some() {
            let allowed = param.allowed();
            let values = value
                .as_array()
                .map_or(vec![value], |items| items.iter().collect());
            for value in values {
                assert!(
                    value.as_str().is_some_and(|value| allowed.contains(value)),
                    "{PARAMETERS}: `{name}` = {value} is not one of {allowed:?}"
                );
            }
        }
    }
    for param in template.all("param").filter(|param| param.value.is_none()) {
        assert!(
            given.contains_key(&param.name),
            "{PARAMETERS}: `{}` has no default in {}, so this file must give it",
            param.name,
            param.loc
        );
    }
}

#[test]
fn functions_default_to_every_definition_but_v1_drift() {
    let template = Template::read(TEMPLATE);
    let functions = template.param("functions");
    assert_eq!(
        functions.ty, "array",
        "{}: `functions` is an array",
        functions.loc
    );
    let items = functions.value().items();
    let name = |item: &bicep::Expr| item.text().map(str::to_owned);
    let default: BTreeSet<String> = items.iter().filter_map(name).collect();
    assert!(
        default.len() == items.len()
            && items
                .windows(2)
                .all(|two| two[0].loc.line < two[1].loc.line),
        "{}: write the default of `functions` as a list of names, one a line, each once",
        functions.loc
    );

    let folders = function_folders();
    assert_eq!(
        functions.allowed(),
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
        functions
            .description()
            .is_some_and(|text| text.contains(v1_drift)),
        "{TEMPLATE}: the description of `functions` must say why {v1_drift} is left out"
    );
    assert!(
        folders.is_subset(&template.at("advancedFilters").keys()),
        "{TEMPLATE}: `advancedFilters` needs an entry for each of {folders:?}"
    );
}

/// The resources the deployment needs, by symbol and type.
const RESOURCES: &str = "
    workspace            Microsoft.MachineLearningServices/workspaces
    storage              Microsoft.Storage/storageAccounts
    deadLetterContainer  Microsoft.Storage/storageAccounts/blobServices/containers
    deploymentContainer  Microsoft.Storage/storageAccounts/blobServices/containers
    hostingPlan          Microsoft.Web/serverfarms
    functionApp          Microsoft.Web/sites
    amlRole              Microsoft.Authorization/roleAssignments
    systemTopic          Microsoft.EventGrid/systemTopics
    subscriptions        Microsoft.EventGrid/systemTopics/eventSubscriptions
";

const SHAPES: &str = r"
    functionApp.kind                                     'functionapp,linux'
    functionApp.identity                                 { type: 'SystemAssigned' }
    functionApp.properties.httpsOnly                     true
    // reserved: true is what makes a plan Linux.
    hostingPlan.properties.reserved                      true
    systemTopic.properties.topicType                     'Microsoft.MachineLearningServices.Workspaces'
    systemTopic.properties.source                        workspace.id
    subscriptions.properties.destination.endpointType    'AzureFunction'
    subscriptions.properties.deadLetterDestination.endpointType  'StorageBlob'
    subscriptions.properties.retryPolicy.maxDeliveryAttempts     maxDeliveryAttempts
";

#[test]
fn declares_the_resources_the_deployment_needs() {
    let template = Template::read(TEMPLATE);
    for (symbol, ty) in table(RESOURCES) {
        let resource = template.resource(symbol);
        assert_eq!(resource.ty, ty, "{}: `{symbol}`", resource.loc);
    }
    for resource in template.all("resource") {
        let (version, ty, loc) = (&resource.api_version, &resource.ty, resource.loc);
        let date = version.strip_suffix("-preview").unwrap_or(version);
        let digits = date.bytes().all(|b| b.is_ascii_digit() || b == b'-');
        assert!(
            digits && date.split('-').map(str::len).eq([4, 2, 2]),
            "{loc}: `{}` ({ty}) has API version `{version}`, not YYYY-MM-DD",
            resource.name
        );
        // Dates in YYYY-MM-DD compare as text.
        assert!(
            !ty.starts_with("Microsoft.Web/") || date >= FUNCTION_APP_CONFIG_API,
            "{loc}: `{}` needs API version {FUNCTION_APP_CONFIG_API} or later for Flex \
             Consumption's functionAppConfig",
            resource.name
        );
    }
    let workspace = template.resource("workspace");
    assert!(
        workspace.existing,
        "{}: the workspace must be `existing`: the template never creates it",
        workspace.loc
    );
    template.check_all(SHAPES);
    let outputs = "functionAppName functionAppPrincipalId systemTopicName storageAccountName";
    for output in outputs.split(' ') {
        template.decl("output", output);
    }
}

const FLEX: &str = r"
    // Flex Consumption is the default plan.
    plan              'flex'
    // What the app settings are decided by.
    isFlex            plan == 'flex'
    planSkus.flex     { name: 'FC1', tier: 'FlexConsumption' }
    planSkus.premium  { name: 'EP1', tier: 'ElasticPremium' }
    planKinds.flex    'functionapp'
    hostingPlan.sku   planSkus[plan]
    hostingPlan.kind  planKinds[plan]
    // The site: Flex takes functionAppConfig, the classic plans none.
    functionApp.properties.functionAppConfig  isFlex ? flexAppConfig : null
    // Runtime custom 1.0, 512 MB instances, and the package in a container of the app's storage
    // account read with the app's own identity, not an account key. See
    // <https://learn.microsoft.com/azure/azure-functions/functions-infrastructure-as-code>.
    flexAppConfig.runtime                     { name: 'custom', version: '1.0' }
    flexAppConfig.scaleAndConcurrency.instanceMemoryMB      512
    flexAppConfig.scaleAndConcurrency.maximumInstanceCount  maximumInstanceCount
    flexAppConfig.deployment.storage.type     'blobContainer'
    flexAppConfig.deployment.storage.value    '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
    flexAppConfig.deployment.storage.authentication         { type: 'SystemAssignedIdentity' }
    // The template creates the deployment container it names.
    deploymentContainer.name                  deploymentContainerName
    deploymentContainer.parent                blobService
";

#[test]
fn flex_consumption_is_the_default_plan() {
    let template = Template::read(TEMPLATE);
    let plan = template.param("plan");
    assert_eq!(plan.ty, "string");
    let plans = plan.allowed();
    assert_eq!(
        plans,
        set(["dedicated", "flex", "premium"]),
        "{TEMPLATE}: the plans"
    );
    assert_eq!(
        template.at("planSkus").keys(),
        plans,
        "{TEMPLATE}: a SKU per plan"
    );
    assert_eq!(
        template.at("planKinds").keys(),
        plans,
        "{TEMPLATE}: a kind per plan"
    );
    template.check_all(FLEX);
    let maximum = template.param("maximumInstanceCount");
    assert_eq!(maximum.ty, "int");
    assert!(
        maximum
            .decorator("maxValue")
            .is_some_and(|max| matches!(max, [max] if max.to_string() == "1000")),
        "{}: Flex Consumption scales to 1000 instances at most",
        maximum.loc
    );
}

/// App settings every plan gets, and their values. Host storage goes through the app's identity
/// (service URIs rather than an account key).
const EVERY_PLAN: &str = "
    AzureWebJobsStorage__blobServiceUri   storage.properties.primaryEndpoints.blob
    AzureWebJobsStorage__queueServiceUri  storage.properties.primaryEndpoints.queue
    AzureWebJobsStorage__tableServiceUri  storage.properties.primaryEndpoints.table
    AzureWebJobsStorage__credential       'managedidentity'
    AML_WORKSPACES                        workspace.id
";

/// App settings every plan but Flex gets. With WEBSITE_RUN_FROM_PACKAGE=1, zip deploy keeps the
/// package in /home/data/SitePackages, and redeploying the template (which rewrites the app
/// settings) keeps it.
const CLASSIC_PLANS: &str = "
    FUNCTIONS_WORKER_RUNTIME     'custom'
    FUNCTIONS_EXTENSION_VERSION  '~4'
    WEBSITE_RUN_FROM_PACKAGE     '1'
";

#[test]
fn app_settings_fit_each_plan_and_are_documented() {
    let template = Template::read(TEMPLATE);
    let plans = template.param("plan").allowed();
    let by_plan: BTreeMap<&str, _> = plans
        .iter()
        .map(|plan| (plan.as_str(), app_settings(&template, plan)))
        .collect();

    for refused in NOT_ON_FLEX {
        assert!(
            !by_plan["flex"].contains_key(refused),
            "{TEMPLATE}: Flex Consumption must not get app setting {refused}: its runtime and \
             package live in functionAppConfig"
        );
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
    for (plan, settings) in &by_plan {
        assert!(
            !settings.contains_key("AzureWebJobsStorage"),
            "{TEMPLATE}: plan {plan}: AzureWebJobsStorage must be identity-based \
             (AzureWebJobsStorage__*), not a connection string"
        );
        let classic = table(CLASSIC_PLANS).filter(|_| *plan != "flex");
        for (name, value) in table(EVERY_PLAN).chain(classic) {
            let found = settings.get(name).map(String::as_str);
            assert_eq!(
                found,
                Some(value),
                "{TEMPLATE}: plan {plan} needs app setting {name}"
            );
        }
        for (name, value) in settings {
            assert!(
                documented.contains_key(name) || PLATFORM_SETTINGS.contains(&name.as_str()),
                "{TEMPLATE}: app setting {name} is neither documented in \
                 local.settings.example.json nor a platform setting"
            );
            let mut params = template.all("param");
            let secure =
                params.any(|param| &param.name == value && param.decorator("secure").is_some());
            assert!(
                secure || !SECRET_SETTINGS.contains(&name.as_str()),
                "{TEMPLATE}: app setting {name} holds a secret: its value must be a @secure() \
                 parameter, not `{value}`"
            );
        }
    }
}

#[test]
fn the_app_identity_gets_three_roles() {
    let template = Template::read(TEMPLATE);
    let mut granted = BTreeSet::new();
    let roles = template.all("resource");
    let roles = roles.filter(|resource| resource.ty == "Microsoft.Authorization/roleAssignments");
    for role in roles {
        let (body, loc, symbol) = (role.value(), role.loc, &role.name);
        let at = |path: &str| body.at(path).to_string();
        let identity = format!("{loc}: `{symbol}` is for the app's identity");
        assert_eq!(
            at("properties.principalId"),
            "functionApp.identity.principalId",
            "{identity}"
        );
        assert_eq!(
            at("properties.principalType"),
            "'ServicePrincipal'",
            "{identity}"
        );
        let definition = at("properties.roleDefinitionId");
        let role_var = definition
            .strip_prefix("subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ")
            .and_then(|rest| rest.strip_suffix(')'))
            .unwrap_or_else(|| {
                panic!(
                    "{loc}: `{symbol}` must name a built-in role by a var: \
                     subscriptionResourceId('Microsoft.Authorization/roleDefinitions', VAR)"
                )
            });
        let name = at("name");
        assert!(
            name.starts_with("guid(") && name.ends_with(&format!(", {role_var})")),
            "{loc}: `{symbol}`'s name must be guid(..., {role_var}), so each role assignment has \
             its own"
        );
        let guid = template.at(role_var).text();
        let guid = guid.unwrap_or_else(|| panic!("{TEMPLATE}: `var {role_var}` must be a role id"));
        let first = granted.insert((at("scope"), guid.to_owned()));
        assert!(first, "{loc}: `{symbol}` repeats a role assignment");
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

/// ITEM stands for the loop's variable. The destination is the function's resource id,
/// .../sites/<app>/functions/<Function>, and the filter takes exactly its own event type.
const SUBSCRIPTIONS: &str = r"
    // Subscriptions come in a second deployment, after the code is published.
    createSubscriptions  false
    subscriptions.properties.filter.includedEventTypes  ['Microsoft.MachineLearningServices.${ITEM}']
    subscriptions.properties.filter.advancedFilters     advancedFilters[ITEM]
    subscriptions.properties.destination.properties.resourceId  '${functionApp.id}/functions/${ITEM}'
";

#[test]
fn one_subscription_per_function_once_asked() {
    let template = Template::read(TEMPLATE);
    let create = template.param("createSubscriptions");
    assert_eq!(create.ty, "bool");

    let subscriptions = template.resource("subscriptions");
    let shape = "[for NAME in functions: if (createSubscriptions) {…}]";
    let for_each = subscriptions.for_each.as_ref();
    let (item, over) = for_each.unwrap_or_else(|| panic!("{}: not {shape}", subscriptions.loc));
    let condition = subscriptions.condition.as_ref().map(ToString::to_string);
    assert!(
        over.to_string() == "functions" && condition.as_deref() == Some("createSubscriptions"),
        "{}: not {shape}",
        subscriptions.loc
    );
    template.check_all(&SUBSCRIPTIONS.replace("ITEM", item));
}

const RUN_STATUS: &str = "
    runStatusFilter                   'failures'
    notifyRunStatuses                 'Failed,Canceled'
    runStatusFilters.all              []
    advancedFilters.RunStatusChanged  runStatusFilters[runStatusFilter]
";

#[test]
fn run_status_filter_offers_all_failures_and_azures_monitor_breach_filter() {
    let template = Template::read(TEMPLATE);
    let choice = template.param("runStatusFilter");
    assert_eq!(choice.ty, "string");
    let choices = choice.allowed();
    assert_eq!(choices, set(["all", "failures", "monitorBreach"]));
    assert_eq!(
        template.at("runStatusFilters").keys(),
        choices,
        "{TEMPLATE}: `runStatusFilters` needs one entry per `runStatusFilter` value"
    );
    template.check_all(RUN_STATUS);
    // StringIn on data.runStatus with the statuses of notifyRunStatuses.
    let failures = "[{ operatorType: 'StringIn', key: 'data.runStatus', \
                    values: map(split(notifyRunStatuses, ','), status => trim(status)) }]";
    template.check("runStatusFilters.failures", failures);
    // Azure's own filter, word for word, and the same words the code recognises a breach by.
    let breach = format!(
        "[{{ operatorType: 'StringContains', key: '{MONITOR_BREACH_KEY}', \
         values: ['{MONITOR_BREACH_VALUE}'] }}]"
    );
    template.check("runStatusFilters.monitorBreach", &breach);
    assert_eq!(MONITOR_BREACH_VALUE, BREACH_PHRASE);
    assert_eq!(
        MONITOR_BREACH_KEY.strip_prefix("data.RunTags."),
        Some(BREACH_TAG)
    );
}

#[test]
fn no_secret_is_written_into_the_files() {
    let text = read(TEMPLATE);
    for (at, _) in text.match_indices("AccountKey=") {
        assert!(
            text[at + "AccountKey=".len()..].starts_with("${"),
            "{TEMPLATE}:{}: an account key must come from listKeys() at deploy time",
            text[..at].matches('\n').count() + 1
        );
    }
    for marker in SECRET_MARKERS {
        let found = text.contains(marker);
        assert!(
            !found,
            "{TEMPLATE}: contains `{marker}`, which only a credential would"
        );
    }
    let template = Template::parse(TEMPLATE, &text);
    for param in template
        .all("param")
        .filter(|param| param.decorator("secure").is_some())
    {
        let default = param.value.as_ref().map(ToString::to_string);
        assert!(
            matches!(default.as_deref(), None | Some("''")),
            "{}: @secure() parameter `{}` must default to '' or nothing",
            param.loc,
            param.name
        );
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
