//! Where notifications go (docs/notifications.md): each target is a URL and a kind, detected
//! from the URL's host or given as a `kind:` prefix (proxies, custom domains, loopback
//! stand-ins).
//! `AML_NOTIFY_URL` holds one or more, separated by commas or whitespace.
//!
//! Target URLs carry their key (in the path for Slack and Discord, in `sig=` for Teams
//! Workflows), so a target is shown only as its kind and origin, never whole.
//!
//! A plain `webhook` target may have a signing key ([`SigningKey`], `AML_NOTIFY_SECRET` for
//! `AML_NOTIFY_URL`'s): its notices are then signed the Standard Webhooks way
//! ([`super::signing`]). No other kind verifies a signature, so none is given a key.

use std::fmt;

use url::Url;

use super::signing::{AML_NOTIFY_SECRET, SECRET_FORM, SigningKey, SigningKeyError};
use crate::{
    Secret,
    azure::is_token_safe,
    redact::{self, Show},
};

/// The setting targets come from, named in errors.
pub const AML_NOTIFY_URL: &str = "AML_NOTIFY_URL";
/// The setting PagerDuty's routing key comes from.
pub const AML_NOTIFY_PAGERDUTY_KEY: &str = "AML_NOTIFY_PAGERDUTY_KEY";

/// PagerDuty's Events API v2 endpoint in the US service region.
/// See <https://developer.pagerduty.com/docs/send-alert-event>.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// What a target expects and answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A Teams Workflows webhook ("When a Teams webhook request is received"): an Adaptive
    /// Card in a message envelope.
    Teams,
    /// A Slack incoming webhook: text and Block Kit blocks.
    Slack,
    /// A Discord webhook: content and an embed.
    Discord,
    /// PagerDuty's Events API v2: an alert, deduplicated by `dedup_key`.
    PagerDuty,
    /// Any other JSON endpoint: the project's own body.
    Webhook,
}

impl Kind {
    /// Every kind, in the order help texts list them.
    pub const ALL: [Kind; 5] = [
        Kind::Teams,
        Kind::Slack,
        Kind::Discord,
        Kind::PagerDuty,
        Kind::Webhook,
    ];

    /// `teams`, `slack`, `discord`, `pagerduty`, `webhook`: the prefix and the outcome's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Teams => "teams",
            Kind::Slack => "slack",
            Kind::Discord => "discord",
            Kind::PagerDuty => "pagerduty",
            Kind::Webhook => "webhook",
        }
    }

    /// The kind named `name` (any case).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(name))
    }

    /// The kind a URL's host tells. Old `logic.azure.com` Workflows URLs stopped working on
    /// 2025-11-30, so such a URL today is more likely a Logic App of the user's own: `webhook`,
    /// unless prefixed `teams:`.
    pub fn detect(url: &Url) -> Kind {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let ends_with = |suffix: &str| host == suffix || host.ends_with(&format!(".{suffix}"));
        if ends_with("powerplatform.com") {
            Kind::Teams
        } else if host == "hooks.slack.com" {
            Kind::Slack
        } else if (ends_with("discord.com") || ends_with("discordapp.com"))
            && url.path().starts_with("/api/webhooks/")
        {
            Kind::Discord
        } else if host == "events.pagerduty.com" || host == "events.eu.pagerduty.com" {
            Kind::PagerDuty
        } else {
            Kind::Webhook
        }
    }

    /// Whether `status` means the target took the notification: Teams Workflows answer 202
    /// (200-202 accepted), Slack 200, Discord 200 with `wait=true` (204 without), PagerDuty
    /// 202, any other webhook 2xx.
    pub fn accepts(self, status: u16) -> bool {
        match self {
            Kind::Teams => (200..=202).contains(&status),
            Kind::Slack => status == 200,
            Kind::Discord => status == 200 || status == 204,
            Kind::PagerDuty => status == 202,
            Kind::Webhook => (200..300).contains(&status),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One place notifications go.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// What it expects.
    pub kind: Kind,
    /// Where to post; a secret, since it carries the target's key.
    pub url: Secret,
    /// PagerDuty's integration (routing) key.
    pub routing_key: Option<Secret>,
    /// The key a `webhook` target's notices are signed with (Standard Webhooks), if any.
    pub signing: Option<SigningKey>,
}

/// A target that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not a URL (the text is not repeated: it may be a secret).
    #[error(
        "{setting}: target {position} is not a URL (write URL or kind:URL, kinds: {})",
        kinds()
    )]
    NotAUrl {
        /// The setting.
        setting: &'static str,
        /// 1 for the first target.
        position: usize,
    },
    /// A `kind:` prefix that names no kind.
    #[error(
        "{setting}: target {position} has the unknown kind {kind:?} (kinds: {})",
        kinds()
    )]
    UnknownKind {
        /// The setting.
        setting: &'static str,
        /// 1 for the first target.
        position: usize,
        /// The prefix given.
        kind: String,
    },
    /// An Office 365 connector URL: Microsoft retired them.
    #[error(
        "{setting}: target {position} is a Teams Office 365 connector (\"Incoming Webhook\") URL; Microsoft retired those connectors (new ones blocked since 2024-08-15, shut down in 2025-26). In Teams, create a Workflows webhook instead (\"When a Teams webhook request is received\") and use its URL"
    )]
    RetiredConnector {
        /// The setting.
        setting: &'static str,
        /// 1 for the first target.
        position: usize,
    },
    /// Plain http to another machine: the URL's key would travel in clear.
    #[error(
        "{setting}: target {position} must use https (plain http is allowed only to a loopback address), because its URL carries the target's key"
    )]
    Insecure {
        /// The setting.
        setting: &'static str,
        /// 1 for the first target.
        position: usize,
    },
    /// A PagerDuty target without a routing key.
    #[error("{setting}: a pagerduty target needs a routing key: set {AML_NOTIFY_PAGERDUTY_KEY}")]
    NoRoutingKey {
        /// The setting.
        setting: &'static str,
    },
    /// A signing secret that is not a Standard Webhooks secret (its value is not repeated).
    #[error("{setting} is not a Standard Webhooks secret ({SECRET_FORM}): {problem}")]
    Secret {
        /// The setting.
        setting: &'static str,
        /// What is wrong with it.
        problem: SigningKeyError,
    },
    /// A signing secret for a list with no plain `webhook` target: chat tools and PagerDuty
    /// verify no signature.
    #[error(
        "{AML_NOTIFY_SECRET} is set, but {setting} has no webhook target to sign: only plain webhook targets are signed (Teams, Slack, Discord and PagerDuty verify no signature)"
    )]
    NothingToSign {
        /// The setting holding the targets.
        setting: &'static str,
    },
}

fn kinds() -> String {
    Kind::ALL.map(Kind::as_str).join(", ")
}

impl Target {
    /// Reads one target, `URL` or `kind:URL`, the `position`th of `setting`.
    pub fn parse(
        text: &str,
        setting: &'static str,
        position: usize,
    ) -> Result<Target, TargetError> {
        let text = text.trim();
        let (named, url_text) = match text.split_once(':') {
            Some((prefix, rest))
                if !prefix.is_empty()
                    && prefix.chars().all(|c| c.is_ascii_alphabetic())
                    && !matches!(prefix.to_ascii_lowercase().as_str(), "http" | "https") =>
            {
                let kind = Kind::from_name(prefix).ok_or_else(|| TargetError::UnknownKind {
                    setting,
                    position,
                    kind: prefix.to_owned(),
                })?;
                (Some(kind), rest)
            }
            _ => (None, text),
        };
        let url = Url::parse(url_text)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some())
            .ok_or(TargetError::NotAUrl { setting, position })?;
        if is_retired_connector(&url) {
            return Err(TargetError::RetiredConnector { setting, position });
        }
        if !is_token_safe(&url) {
            return Err(TargetError::Insecure { setting, position });
        }
        Ok(Target {
            kind: named.unwrap_or_else(|| Kind::detect(&url)),
            url: Secret::new(url.as_str()),
            routing_key: None,
            signing: None,
        })
    }

    /// Reads `AML_NOTIFY_URL`: targets separated by commas or whitespace; PagerDuty targets get
    /// `routing_key`, and need one; plain webhook targets get `signing` (`AML_NOTIFY_SECRET`),
    /// which needs one of them.
    pub fn parse_list(
        text: &str,
        routing_key: Option<&Secret>,
        signing: Option<&SigningKey>,
    ) -> Result<Vec<Target>, TargetError> {
        let targets = text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|part| !part.is_empty())
            .enumerate()
            .map(|(index, part)| {
                Target::parse(part, AML_NOTIFY_URL, index + 1)?.with_keys(
                    routing_key,
                    signing,
                    AML_NOTIFY_URL,
                )
            })
            .collect::<Result<Vec<Target>, TargetError>>()?;
        if signing.is_some() && !targets.iter().any(|target| target.kind == Kind::Webhook) {
            return Err(TargetError::NothingToSign {
                setting: AML_NOTIFY_URL,
            });
        }
        Ok(targets)
    }

    /// This target with the keys its kind takes: a PagerDuty target the `routing_key` (which it
    /// cannot go without: refused naming `setting`), a plain webhook the `signing` key, if any.
    pub fn with_keys(
        mut self,
        routing_key: Option<&Secret>,
        signing: Option<&SigningKey>,
        setting: &'static str,
    ) -> Result<Target, TargetError> {
        match self.kind {
            Kind::PagerDuty => {
                let key = routing_key.ok_or(TargetError::NoRoutingKey { setting })?;
                self.routing_key = Some(key.clone());
            }
            Kind::Webhook => self.signing = signing.cloned(),
            _ => {}
        }
        Ok(self)
    }

    /// The URL requests go to: Discord's with `wait=true`, so that it answers 200 with the
    /// message, or an error, instead of 204 before checking anything.
    /// See <https://discord.com/developers/docs/resources/webhook#execute-webhook>.
    pub fn post_url(&self) -> Option<Url> {
        let mut url = Url::parse(self.url.expose()).ok()?;
        if self.kind == Kind::Discord && !url.query_pairs().any(|(key, _)| key == "wait") {
            url.query_pairs_mut().append_pair("wait", "true");
        }
        Some(url)
    }

    /// The target's identity, for the ledger: everything that makes posting to it a different
    /// effect (its kind, its URL and, for PagerDuty, its routing key: two services behind one
    /// endpoint), fingerprinted so no key is stored: `slack-<fingerprint>`. Two names for the
    /// very same target share it; two PagerDuty targets that differ only in routing key do not.
    pub fn ledger_id(&self) -> String {
        let fingerprint = match &self.routing_key {
            None => redact::fingerprint(self.url.expose()),
            // A line break cannot occur in a URL: the two parts cannot run into each other.
            Some(key) => redact::fingerprint(&format!("{}\n{}", self.url.expose(), key.expose())),
        };
        format!("{}-{fingerprint}", self.kind)
    }

    /// `slack https://hooks.slack.com/…`: the kind and origin, never the key.
    pub fn display(&self) -> String {
        format!(
            "{} {}",
            self.kind,
            redact::url_text(self.url.expose(), Show::Origin)
        )
    }

    /// [`Target::display`], from `url`, the target's URL already parsed (as [`Target::post_url`]
    /// gives it).
    pub(crate) fn display_parsed(&self, url: &Url) -> String {
        format!("{} {}", self.kind, redact::url(url, Show::Origin))
    }

    /// The values a target's answer must never repeat in an error: its URL's path and
    /// query, and the routing key. `url` is its [`Target::post_url`] (which only adds
    /// Discord's `wait=true`, no secret).
    pub(crate) fn secrets(&self, url: &Url) -> Vec<String> {
        let mut secrets: Vec<String> = (url.path_segments().into_iter().flatten())
            .filter(|s| s.len() >= 8)
            .map(str::to_owned)
            .collect();
        secrets.extend(
            url.query_pairs()
                .map(|(_, value)| value.into_owned())
                .filter(|v| v.len() >= 8),
        );
        secrets.extend(self.routing_key.iter().map(|key| key.expose().to_owned()));
        secrets.extend(
            (self.signing.iter())
                .flat_map(SigningKey::secrets)
                .map(str::to_owned),
        );
        secrets
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

/// Office 365 connector URLs (Teams "Incoming Webhook"): `*.webhook.office.com` and the older
/// `outlook.office.com/webhook`, `outlook.office365.com/webhook`.
/// See <https://devblogs.microsoft.com/microsoft365dev/retirement-of-office-365-connectors-within-microsoft-teams/>.
fn is_retired_connector(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    host.ends_with(".webhook.office.com")
        || (matches!(
            host.as_str(),
            "outlook.office.com" | "outlook.office365.com"
        ) && url.path().to_ascii_lowercase().starts_with("/webhook"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_host_or_the_prefix() {
        for (text, kind) in [
            (
                "https://prod-00.westeurope.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=s3cr3tsig",
                Kind::Teams,
            ),
            (
                "https://hooks.slack.com/services/T0/B0/XXXXXXXX",
                Kind::Slack,
            ),
            ("https://discord.com/api/webhooks/1/tok", Kind::Discord),
            ("https://discordapp.com/api/webhooks/1/tok", Kind::Discord),
            ("https://discord.com/channels/1", Kind::Webhook),
            ("https://events.pagerduty.com/v2/enqueue", Kind::PagerDuty),
            (
                "https://events.eu.pagerduty.com/v2/enqueue",
                Kind::PagerDuty,
            ),
            (
                "https://prod-01.westus.logic.azure.com/workflows/x",
                Kind::Webhook,
            ),
            (
                "teams:https://prod-01.westus.logic.azure.com/workflows/x",
                Kind::Teams,
            ),
            ("SLACK:http://127.0.0.1:9/x", Kind::Slack),
            ("https://example.com/hook", Kind::Webhook),
        ] {
            let target = Target::parse(text, "AML_NOTIFY_URL", 1).unwrap();
            assert_eq!(target.kind, kind, "{text}");
        }
    }

    #[test]
    fn retired_connectors_unsafe_and_unknown_targets_are_refused_without_their_url() {
        for (text, wanted) in [
            (
                "https://contoso.webhook.office.com/webhookb2/SECRETPART",
                "Workflows",
            ),
            ("https://outlook.office.com/webhook/SECRETPART", "retired"),
            ("http://hooks.example.com/SECRETPART", "https"),
            ("matrix:https://example.com/SECRETPART", "unknown kind"),
            ("SECRETPART", "not a URL"),
        ] {
            let err = Target::parse(text, "AML_NOTIFY_URL", 2)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(wanted) && err.contains("target 2"),
                "{text}: {err}"
            );
            assert!(!err.contains("SECRETPART"), "{err}");
        }
    }

    #[test]
    fn a_list_takes_commas_or_whitespace_and_pagerduty_needs_its_key() {
        let key = Secret::new("R0UT1NGKEY");
        let targets = Target::parse_list(
            "slack:http://127.0.0.1:1/a, https://events.pagerduty.com/v2/enqueue\n https://example.com/b",
            Some(&key),
            None,
        )
        .unwrap();
        let kinds: Vec<Kind> = targets.iter().map(|target| target.kind).collect();
        assert_eq!(kinds, [Kind::Slack, Kind::PagerDuty, Kind::Webhook]);
        assert_eq!(targets[1].routing_key.as_ref(), Some(&key));
        let err = Target::parse_list(PAGERDUTY_EVENTS_URL, None, None).unwrap_err();
        assert!(err.to_string().contains(AML_NOTIFY_PAGERDUTY_KEY));
    }

    #[test]
    fn the_secret_signs_the_plain_webhook_targets_only_and_needs_one() {
        let key = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let targets = Target::parse_list(
            "slack:http://127.0.0.1:1/a https://example.com/b",
            None,
            Some(&key),
        )
        .unwrap();
        let signed: Vec<bool> = targets.iter().map(|t| t.signing.is_some()).collect();
        assert_eq!(signed, [false, true]);
        assert!(
            (targets[1].secrets(&targets[1].post_url().unwrap()).iter())
                .any(|s| s == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        );
        assert_eq!(
            targets[1].ledger_id(),
            Target::parse("https://example.com/b", AML_NOTIFY_URL, 2)
                .unwrap()
                .ledger_id(),
            "signing the same target does not make it another effect"
        );
        assert!(!format!("{:?}", targets[1]).contains("MfKQ"));
        let err = Target::parse_list(
            "slack:http://127.0.0.1:1/a teams:https://example.com/t",
            None,
            Some(&key),
        )
        .unwrap_err();
        assert_eq!(
            err,
            TargetError::NothingToSign {
                setting: AML_NOTIFY_URL
            }
        );
        assert!(
            err.to_string().starts_with("AML_NOTIFY_SECRET is set"),
            "{err}"
        );
        let err = TargetError::Secret {
            setting: AML_NOTIFY_SECRET,
            problem: SigningKey::parse("whsec_c2VjcmV0").unwrap_err(),
        };
        assert_eq!(
            err.to_string(),
            "AML_NOTIFY_SECRET is not a Standard Webhooks secret (whsec_ followed by the base64 of 24 to 64 random bytes): its key is 6 bytes long, not 24 to 64"
        );
    }

    // See: issue 22, finding 1: two PagerDuty services behind one endpoint shared one claim,
    // and the second was never paged.
    #[test]
    fn a_targets_identity_includes_its_routing_key() {
        let mut team_a = Target::parse(PAGERDUTY_EVENTS_URL, "url", 1).unwrap();
        let mut team_b = team_a.clone();
        team_a.routing_key = Some(Secret::new("key-of-team-a"));
        team_b.routing_key = Some(Secret::new("key-of-team-b"));
        assert_ne!(team_a.ledger_id(), team_b.ledger_id());
        assert_eq!(team_a.ledger_id(), team_a.clone().ledger_id());
        assert!(team_a.ledger_id().starts_with("pagerduty-"));
        assert!(!team_a.ledger_id().contains("team-a"), "no key stored");
        let slack = Target::parse("https://hooks.slack.com/services/T0/B0/X", "url", 1).unwrap();
        assert_eq!(
            slack.ledger_id(),
            format!(
                "slack-{}",
                redact::fingerprint("https://hooks.slack.com/services/T0/B0/X")
            ),
            "targets without a routing key keep the identity they had"
        );
    }

    #[test]
    fn discord_waits_for_its_answer_and_targets_show_only_kind_and_origin() {
        let target = Target::parse(
            "https://discord.com/api/webhooks/1/T0KEN",
            "AML_NOTIFY_URL",
            1,
        )
        .unwrap();
        assert_eq!(
            target.post_url().unwrap().as_str(),
            "https://discord.com/api/webhooks/1/T0KEN?wait=true"
        );
        assert_eq!(target.display(), "discord https://discord.com/…");
        assert!(!format!("{target:?}").contains("T0KEN"));
        assert!(
            Kind::Teams.accepts(202) && !Kind::Slack.accepts(204) && Kind::Discord.accepts(204)
        );
        assert!(Kind::PagerDuty.accepts(202) && !Kind::PagerDuty.accepts(200));
    }
}
