//! `ModelRegistered`: a model or model version was registered; announce it, with a link to the
//! model's version in Azure ML studio.
//! Function name, folder `function-definitions/ModelRegistered/` and route `/ModelRegistered`
//! are one name.

use aml_events::{
    Event, Function, WorkspaceId,
    events::{ModelRegistered, RawObject},
    notify::{Link, Notice},
};
use serde_json::Value;

use super::{
    actions::{Actions, Handled},
    group, notice,
};
use crate::outcome::Outcome;

/// The function's name.
pub const NAME: &str = Function::ModelRegistered.name();

/// Notifies that the model was registered.
pub async fn handle(event: &Event<()>, model: ModelRegistered, actions: &Actions<'_>) -> Handled {
    let mut notice = notice::notice(Function::ModelRegistered, event, &model);
    describe(&mut notice, event.workspace().as_ref(), &model);
    notice.group = group::model(model.model_name.as_deref().unwrap_or("(unnamed)"));
    let notify = actions.notify(notice).await;
    Handled::new(Outcome::new(Some(Function::ModelRegistered), event)).with(notify)
}

/// Fills in a registration's notice: the model's version, its tags, and its page in Azure ML
/// studio.
fn describe(notice: &mut Notice, workspace: Option<&WorkspaceId>, model: &ModelRegistered) {
    let (name, version) = (
        model.model_name.as_deref().unwrap_or("(unnamed)"),
        model.model_version.as_deref().unwrap_or("(unknown)"),
    );
    notice.status = "REGISTERED".to_owned();
    notice.title = format!("Model {name} version {version} registered");
    notice.summary = format!("Model {name} version {version} was registered");
    let tags = (model.model_tags.as_ref().map(RawObject::to_map))
        .unwrap_or_default()
        .into_iter()
        .map(|(key, value)| match value {
            Value::String(text) => format!("{key}={text}"),
            other => format!("{key}={other}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    notice.facts = notice::facts([
        ("Model", Some(name)),
        ("Version", Some(version)),
        ("Tags", Some(tags.as_str())),
    ]);
    if let (Some(workspace), Some(name), Some(version)) = (
        workspace,
        model.model_name.as_deref(),
        model.model_version.as_deref(),
    ) {
        notice.links.push(Link {
            label: "Open model".to_owned(),
            url: workspace.studio_model_url(name, version),
        });
    }
    notice.alert_key = notice::alert_key(workspace, Some(&format!("{name}:{version}")), NAME);
}

#[cfg(test)]
mod tests {
    use aml_events::notify::Fact;
    use serde_json::json;

    use super::*;

    #[test]
    fn links_the_model_version_in_studio() {
        let model: ModelRegistered = serde_json::from_value(json!({
            "ModelName": "sklearn_regression_model", "ModelVersion": 20,
            "ModelTags": {"area": "diabetes", "type": "regression"}}))
        .unwrap();
        let workspace = WorkspaceId::parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws").unwrap();
        let mut notice = Notice::default();

        describe(&mut notice, Some(&workspace), &model);

        assert_eq!(notice.status, "REGISTERED");
        assert_eq!(
            notice.title,
            "Model sklearn_regression_model version 20 registered"
        );
        assert_eq!(notice.links[0].label, "Open model");
        assert_eq!(
            notice.links[0].url,
            workspace.studio_model_url("sklearn_regression_model", "20")
        );
        assert!(
            notice
                .facts
                .contains(&Fact::new("Tags", "area=diabetes, type=regression"))
        );
    }
}
