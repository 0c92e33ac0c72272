//! Notifications, which are not Azure ML: one neutral [`Notice`] per event, rendered for each
//! target's kind (docs/notifications.md) and posted to it.
//!
//! # Layout
//! - [`notice`]: the [`Notice`] itself: title, summary, severity, facts, error, rows, links,
//!   event id, and the alert key PagerDuty deduplicates on; and the readings every renderer
//!   shares (headline, status word, tone).
//! - [`cut`]: [`limit`] and [`limit_end`], the one way every renderer cuts a text to its
//!   target's limit.
//! - [`error_text`]: an [`ErrorText`] and its exception line, said first, and the rest.
//! - [`buttons`]: which links a notice shows ([`Buttons`]), and what stands in for an unusable
//!   one.
//! - [`escape`]: the one way untrusted event text is made safe for each format (Markdown,
//!   Slack mrkdwn, plain text, code blocks): no link, mention, heading or emphasis from it.
//! - one module per kind, each a pure `render(&Notice) -> serde_json::Value`: [`teams`]
//!   (an Adaptive Card in the Workflows envelope), [`slack`] (Block Kit), [`discord`] (an
//!   embed), [`pagerduty`] (Events API v2, which also takes the routing key), [`webhook`] (the
//!   project's own JSON).
//! - [`target`]: where notices go: `AML_NOTIFY_URL`'s targets and their kinds.
//! - [`signing`]: a plain webhook target's [`SigningKey`], and the Standard Webhooks headers
//!   its notices carry (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
//! - [`send`]: the [`Notifier`], which posts a notice to a target through the shared retry
//!   pipeline (signed, when the target has a key) and judges the answer by the target's kind.
//!
//! Rendering never fails and never sends; sending lives in one place.

pub mod buttons;
pub mod cut;
pub mod discord;
pub mod error_text;
pub mod escape;
pub mod notice;
pub mod pagerduty;
pub mod send;
pub mod signing;
pub mod slack;
pub mod target;
pub mod teams;
pub mod webhook;

pub use buttons::Buttons;
pub use cut::{ELLIPSIS, limit, limit_end};
pub use error_text::ErrorText;
pub use notice::{BLANK, EventData, Fact, Held, Link, Notice, Rows, Severity, Tone};
pub use send::{Body, Delivered, Notifier, NotifierOptions, NotifyError};
pub use signing::{AML_NOTIFY_SECRET, SigningKey, SigningKeyError};
pub use target::{
    AML_NOTIFY_PAGERDUTY_KEY, AML_NOTIFY_URL, Kind, PAGERDUTY_EVENTS_URL, Target, TargetError,
};
