//! Who may deliver to the webhook, by Microsoft Entra ID: Event Grid sends each delivery with
//! a bearer token from its own identity, and neither the Functions host nor App Service checks
//! it for a custom handler, so the handlers do, in `serve` and on Lambda alike.
//!
//! # Layout
//! - `settings`: [`EntraSettings`], the tenant, audience, caller, role and authority, and the
//!   issuers and key URL that follow from them.
//! - `refusal`: [`Refusal`], the check a token failed (401), and [`EntraError`], which adds
//!   having no key to check it with (503).
//! - `keys`: the tenant's signing keys, fetched and kept.
//! - `token`: one token's checks.
//! - `gate`: [`Gate`], the checks in order, as the hosts call them, and [`check_form`], those
//!   that need no key.
//!
//! It knows no HTTP framework: hosts hand in the `Authorization` header and turn the result
//! into their answer. It never logs or repeats a token.
//! See <https://learn.microsoft.com/azure/event-grid/secure-webhook-delivery>.

mod gate;
mod keys;
mod refusal;
mod settings;
mod token;

pub use gate::{Gate, check_form};
pub use refusal::{EntraError, Refusal};
pub use settings::{
    DEFAULT_AUTHORITY, DEFAULT_ROLE, EVENT_GRID_APP_ID, EVENT_GRID_APP_ID_GOVERNMENT,
    EntraSettings, TokenVersion,
};
