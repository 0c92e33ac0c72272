//! The URLs of the client's requests: names percent-encoded one path segment each, a
//! workspace's path, and the `api-version` every Azure ML request names.

use url::Url;

use super::error::CallbackError;
use crate::WorkspaceId;

/// `base` with `segments` appended, each percent-encoded as one path segment (a `/` in a name
/// stays inside its segment). Names that would move up the path are refused.
pub(super) fn join_path<'s>(
    operation: &'static str,
    base: &Url,
    segments: impl IntoIterator<Item = (&'static str, &'s str)>,
) -> Result<Url, CallbackError> {
    let segments: Vec<&str> = segments
        .into_iter()
        .map(|(what, segment)| match segment {
            "" | "." | ".." => Err(CallbackError::InvalidName {
                operation,
                what,
                value: segment.to_owned(),
            }),
            _ => Ok(segment),
        })
        .collect::<Result<_, _>>()?;
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    // All at once: each `push` would rewrite the URL's text again.
    url.path_segments_mut()
        .map_err(|()| CallbackError::InvalidResponse {
            operation,
            problem: "the base URL cannot take a path".into(),
        })?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// The path of a workspace, from `subscriptions/` on, as `(what, segment)` pairs.
pub(super) fn workspace_path(id: &WorkspaceId) -> [(&'static str, &str); 8] {
    [
        ("path", "subscriptions"),
        ("subscription id", &id.subscription),
        ("path", "resourceGroups"),
        ("resource group", &id.resource_group),
        ("path", "providers"),
        ("path", "Microsoft.MachineLearningServices"),
        ("path", "workspaces"),
        ("workspace name", &id.workspace),
    ]
}

pub(super) fn with_api_version(mut url: Url, api_version: &str) -> Url {
    url.query_pairs_mut()
        .append_pair("api-version", api_version);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_their_path_segment() {
        let base = Url::parse("https://eastus.api.azureml.ms").unwrap();
        let url = join_path(
            "get run",
            &base,
            [("path", "runs"), ("run id", "a b/c?d#e%f")],
        )
        .unwrap();
        assert_eq!(url.path(), "/runs/a%20b%2Fc%3Fd%23e%25f");
        for name in ["", ".", ".."] {
            let err = join_path("get run", &base, [("run id", name)]).unwrap_err();
            assert!(matches!(err, CallbackError::InvalidName { .. }), "{name:?}");
        }
    }
}
