//! Which Azure ML workspace an event came from: its Event Grid `topic` (CloudEvents `source`)
//! is the workspace's ARM resource id.

use std::fmt;

use crate::plain_url;

/// An Azure ML workspace, read from its resource id
/// `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}`.
///
/// ARM ids are case-insensitive, so comparisons ignore ASCII case.
#[derive(Debug, Clone)]
pub struct WorkspaceId {
    /// The subscription id.
    pub subscription: String,
    /// The resource group name.
    pub resource_group: String,
    /// The workspace name.
    pub workspace: String,
}

impl WorkspaceId {
    /// Reads a workspace resource id; `None` for anything else, including the docs' samples
    /// with `{subscription-id}` placeholders.
    pub fn parse(resource_id: &str) -> Option<WorkspaceId> {
        let mut parts = resource_id.trim().trim_end_matches('/').split('/');
        let expect =
            |part: Option<&str>, name: &str| part.is_some_and(|p| p.eq_ignore_ascii_case(name));
        let segment = |part: Option<&str>| {
            part.filter(|p| !p.is_empty() && !p.contains(['{', '}', ' ', '?', '#', '%', '\\']))
                .map(str::to_owned)
        };
        if parts.next() != Some("") || !expect(parts.next(), "subscriptions") {
            return None;
        }
        let subscription = segment(parts.next())?;
        if !expect(parts.next(), "resourceGroups") {
            return None;
        }
        let resource_group = segment(parts.next())?;
        if !expect(parts.next(), "providers")
            || !expect(parts.next(), "Microsoft.MachineLearningServices")
            || !expect(parts.next(), "workspaces")
        {
            return None;
        }
        let workspace = segment(parts.next())?;
        if parts.next().is_some() {
            return None;
        }
        Some(WorkspaceId {
            subscription,
            resource_group,
            workspace,
        })
    }

    /// The ARM path of the workspace, from `/subscriptions/` on.
    pub fn resource_id(&self) -> String {
        self.to_string()
    }

    /// The workspace's own page in Azure ML studio:
    /// `https://ml.azure.com/?wsid=/subscriptions/{sub}/resourcegroups/{rg}/workspaces/{ws}`.
    pub fn studio_workspace_url(&self) -> String {
        self.studio_url(&[])
    }

    /// The run's page in Azure ML studio:
    /// `https://ml.azure.com/runs/{runId}?wsid=/subscriptions/{sub}/resourcegroups/{rg}/workspaces/{ws}`.
    /// A v2 job's page is its run's page: the job's name is its run id.
    pub fn studio_run_url(&self, run_id: &str) -> String {
        self.studio_url(&["runs", run_id])
    }

    /// A model version's page in Azure ML studio:
    /// `https://ml.azure.com/model/{name}:{version}/details?wsid=…`, the form studio links a
    /// registered model with (e.g. the model list of
    /// <https://github.com/Welthungerhilfe/cgm-ml>).
    pub fn studio_model_url(&self, name: &str, version: &str) -> String {
        self.studio_url(&["model", &format!("{name}:{version}"), "details"])
    }

    /// A real-time endpoint's page in Azure ML studio:
    /// `https://ml.azure.com/endpoints/realtime/{name}/detail?wsid=…`, the form of the endpoint
    /// links in
    /// <https://github.com/microsoft/promptflow/blob/main/docs/how-to-guides/develop-a-tool/create-dynamic-list-tool-input.md>.
    pub fn studio_endpoint_url(&self, name: &str) -> String {
        self.studio_url(&["endpoints", "realtime", name, "detail"])
    }

    /// `https://ml.azure.com/<segments>?wsid=…`, each segment percent-encoded (a name holding
    /// `/` or `?` stays one segment), as the URL parser writes it.
    fn studio_url(&self, segments: &[&str]) -> String {
        let ids = [&self.subscription, &self.resource_group, &self.workspace];
        if segments
            .iter()
            .all(|segment| plain_url::is_plain_segment(segment))
            && ids.iter().all(|id| plain_url::is_plain_query_value(id))
        {
            // Nothing to escape: the parser would write these as they are.
            return format!(
                "https://ml.azure.com/{}?wsid=/subscriptions/{}/resourcegroups/{}/workspaces/{}",
                segments.join("/"),
                self.subscription,
                self.resource_group,
                self.workspace
            );
        }
        self.studio_url_parsed(segments)
    }

    /// [`WorkspaceId::studio_url`] through the URL parser, for names that need escaping.
    fn studio_url_parsed(&self, segments: &[&str]) -> String {
        let mut url = url::Url::parse("https://ml.azure.com/").expect("a valid URL");
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url.set_query(Some(&format!(
            "wsid=/subscriptions/{}/resourcegroups/{}/workspaces/{}",
            self.subscription, self.resource_group, self.workspace
        )));
        url.to_string()
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.MachineLearningServices/workspaces/{}",
            self.subscription, self.resource_group, self.workspace
        )
    }
}

impl PartialEq for WorkspaceId {
    fn eq(&self, other: &Self) -> bool {
        self.subscription.eq_ignore_ascii_case(&other.subscription)
            && self
                .resource_group
                .eq_ignore_ascii_case(&other.resource_group)
            && self.workspace.eq_ignore_ascii_case(&other.workspace)
    }
}

impl Eq for WorkspaceId {}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Links made without the parser are the parser's, whatever the names.
        #[test]
        fn studio_links_are_the_url_parsers(
            name in proptest::prop_oneof!["[a-zA-Z0-9_:.-]{0,12}", "([a-zA-Z0-9_/?#%. -]|é|\\.\\.){0,8}"],
            group in proptest::prop_oneof!["[a-zA-Z0-9_().-]{1,12}", "([a-zA-Z0-9_'#%() -]|é){1,8}"],
        ) {
            let workspace = WorkspaceId {
                subscription: "6a2b".into(),
                resource_group: group,
                workspace: "ml-ws".into(),
            };
            for segments in [&[][..], &["runs", name.as_str()], &["model", name.as_str(), "details"]] {
                proptest::prop_assert_eq!(
                    workspace.studio_url(segments),
                    workspace.studio_url_parsed(segments)
                );
            }
        }
    }

    #[test]
    fn links_a_model_and_an_endpoint_in_studio() {
        let workspace = WorkspaceId::parse("/subscriptions/6a2b/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws").unwrap();
        let wsid = "wsid=/subscriptions/6a2b/resourcegroups/ml-rg/workspaces/ml-ws";
        assert_eq!(
            workspace.studio_model_url("churn-model", "3"),
            format!("https://ml.azure.com/model/churn-model:3/details?{wsid}")
        );
        assert_eq!(
            workspace.studio_endpoint_url("churn-api"),
            format!("https://ml.azure.com/endpoints/realtime/churn-api/detail?{wsid}")
        );
        assert!(
            workspace
                .studio_endpoint_url("a/b?c")
                .starts_with("https://ml.azure.com/endpoints/realtime/a%2Fb%3Fc/detail?")
        );
        assert_eq!(
            workspace.studio_workspace_url(),
            format!("https://ml.azure.com/?{wsid}")
        );
    }

    #[test]
    fn links_a_run_in_studio() {
        let workspace = WorkspaceId::parse("/subscriptions/6a2b/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws").unwrap();
        assert_eq!(
            workspace.studio_run_url("churn_run_7"),
            "https://ml.azure.com/runs/churn_run_7?wsid=/subscriptions/6a2b/resourcegroups/ml-rg/workspaces/ml-ws"
        );
        assert!(
            workspace
                .studio_run_url("a/b c")
                .starts_with("https://ml.azure.com/runs/a%2Fb%20c?")
        );
    }

    const ID: &str = "/subscriptions/6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws";

    #[test]
    fn reads_a_workspace_resource_id_in_any_case() {
        let id = WorkspaceId::parse(ID).unwrap();
        assert_eq!(id.subscription, "6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d");
        assert_eq!(id.resource_group, "ml-rg");
        assert_eq!(id.workspace, "ml-ws");
        assert_eq!(id.resource_id(), ID);
        assert_eq!(WorkspaceId::parse(&ID.to_uppercase()).unwrap(), id);
    }

    #[test]
    fn refuses_placeholders_and_other_resources() {
        for text in [
            "/subscriptions/{subscription-id}/resourceGroups/{resource-group-name}/providers/Microsoft.MachineLearningServices/workspaces/{workspace-name}",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/jobs/j",
            "/subscriptions/xxxxxxxx",
            "",
        ] {
            assert!(WorkspaceId::parse(text).is_none(), "{text}");
        }
    }
}
