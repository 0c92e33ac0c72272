//! Notifications, which are not Azure ML: one neutral [`Notice`] per event, rendered for each
//! target's kind (SPEC §8.7) and posted to it.
//!
//! # Layout
//! - [`notice`]: the [`Notice`] itself: title, summary, severity, facts, link, event id, and
//!   the alert key PagerDuty deduplicates on; and [`limit`], the one way every renderer cuts
//!   a text to its target's limit.
//! - one module per kind, each a pure `render(&Notice) -> serde_json::Value`: [`teams`]
//!   (an Adaptive Card in the Workflows envelope), [`slack`] (Block Kit), [`discord`] (an
//!   embed), [`pagerduty`] (Events API v2, which also takes the routing key), [`webhook`] (the
//!   project's own JSON).
//!
//! Rendering never fails and never sends; sending lives in one place.

pub mod discord;
pub mod notice;
pub mod pagerduty;
pub mod slack;
pub mod teams;
pub mod webhook;

pub use notice::{Fact, Notice, Severity, limit};
