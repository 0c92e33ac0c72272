//! The links a notice shows as buttons: the studio link and the product's others, each an
//! `http(s)` URL a target accepts, or a stand-in for it, or said to be left out; never silently
//! dropped. Every renderer that shows links takes them from [`Notice::buttons`].

use super::cut::non_blank;
use super::notice::{Link, Notice};
use crate::{WorkspaceId, plain_url};

/// The label of the button to [`Notice::link`].
pub const OPEN_LABEL: &str = "Open in Azure ML studio";

/// The label of the button to the workspace, which stands in for a link too long to put on a
/// button.
pub const WORKSPACE_LABEL: &str = "Open the workspace in Azure ML studio";

/// How many buttons a card shows: the studio link and the product's few others (retrain job,
/// model, endpoint) fit; Teams shows no more than about this many actions in a row.
pub const MAX_BUTTONS: usize = 5;

/// The longest link a renderer puts on a button. A studio link is a few hundred characters;
/// the bound keeps within Slack's button `url` (3,000) and leaves Teams' byte budget to the
/// texts.
const MAX_LINK: usize = 2048;

/// The buttons a card shows, and how many links it had to leave out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Buttons {
    /// Labelled `http(s)` URLs of at most 2,048 characters, no URL twice.
    pub links: Vec<Link>,
    /// Links that could be no button, nor be replaced by the workspace's page.
    pub unusable: usize,
    /// Links past the first [`MAX_BUTTONS`].
    pub beyond: usize,
}

impl Buttons {
    /// What a card says about the links it could not show, rather than drop them silently:
    /// `1 link left out: not an http(s) URL of at most 2,048 characters`, `2 more links not
    /// shown`, or both.
    pub fn left_out_text(&self) -> Option<String> {
        let plural = |n: usize| if n == 1 { "link" } else { "links" };
        let mut said = Vec::new();
        if self.unusable > 0 {
            let n = self.unusable;
            said.push(format!(
                "{n} {} left out: not an http(s) URL of at most 2,048 characters",
                plural(n)
            ));
        }
        if self.beyond > 0 {
            let n = self.beyond;
            said.push(format!("{n} more {} not shown", plural(n)));
        }
        (!said.is_empty()).then(|| said.join("; "))
    }
}

impl Notice {
    /// The buttons: [`link`](Notice::link) as `Open in Azure ML studio`, then each of
    /// [`links`](Notice::links), at most [`MAX_BUTTONS`]. A link that is not an `http(s)` URL
    /// of at most 2,048 characters (written as the URL parser writes it, so with non-ASCII
    /// characters percent-encoded) does not silently lose its button: the workspace's page in
    /// Azure ML studio, a shorter link the product can make, stands in for it
    /// ([`WORKSPACE_LABEL`]); when there is no workspace either, it is counted in
    /// [`Buttons::unusable`].
    pub fn buttons(&self) -> Buttons {
        let wanted = self
            .link
            .iter()
            .map(|url| (OPEN_LABEL, url.as_str()))
            .chain(
                self.links
                    .iter()
                    .map(|link| (link.label.as_str(), link.url.as_str())),
            );
        let mut buttons = Buttons::default();
        for (label, url) in wanted {
            let link = match web_url(url.trim()) {
                Some(url) => Some(Link {
                    label: non_blank(label, OPEN_LABEL).trim().to_owned(),
                    url,
                }),
                None => self.workspace_page().map(|url| Link {
                    label: WORKSPACE_LABEL.to_owned(),
                    url,
                }),
            };
            match link {
                Some(link) if buttons.links.iter().any(|shown| shown.url == link.url) => {}
                Some(link) if buttons.links.len() < MAX_BUTTONS => buttons.links.push(link),
                Some(_) => buttons.beyond += 1,
                None => buttons.unusable += 1,
            }
        }
        buttons
    }

    /// The workspace's page in Azure ML studio:
    /// `https://ml.azure.com/?wsid=/subscriptions/{sub}/resourcegroups/{rg}/workspaces/{ws}`.
    fn workspace_page(&self) -> Option<String> {
        let workspace = WorkspaceId::parse(self.workspace.as_deref()?)?;
        web_url(&workspace.studio_workspace_url())
    }
}

/// `text` as the URL parser writes it, when it is an `http` or `https` URL of at most
/// [`MAX_LINK`] characters so written.
fn web_url(text: &str) -> Option<String> {
    if text.len() <= MAX_LINK && plain_url::is_written_as_parsed(text) {
        return Some(text.to_owned());
    }
    let parsed = url::Url::parse(text).ok()?;
    (matches!(parsed.scheme(), "http" | "https") && parsed.as_str().len() <= MAX_LINK)
        .then(|| parsed.to_string())
}
