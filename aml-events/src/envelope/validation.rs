//! The Event Grid system events a webhook must answer: the subscription-validation handshake
//! and the notice that a subscription was deleted.
//!
//! See <https://learn.microsoft.com/azure/event-grid/webhook-event-delivery> and
//! <https://learn.microsoft.com/azure/event-grid/event-schema-subscriptions>.

use serde::Serialize;

crate::events::payload! {
    /// `Microsoft.EventGrid.SubscriptionValidationEvent`: echo `validationCode` to prove the
    /// endpoint is yours, or GET `validationUrl`.
    pub struct SubscriptionValidationEventData {
        /// The code to return as `validationResponse`.
        validation_code: Option<String> = "validationCode",
        /// The URL a manual validation would GET.
        validation_url: Option<String> = "validationUrl",
    }
}

crate::events::payload! {
    /// `Microsoft.EventGrid.SubscriptionDeletedEvent`.
    pub struct SubscriptionDeletedEventData {
        /// The resource id of the deleted event subscription.
        event_subscription_id: Option<String> = "eventSubscriptionId",
    }
}

/// The answer to a subscription-validation event: `{"validationResponse": "<code>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationResponse {
    /// The event's `validationCode`, echoed.
    pub validation_response: String,
}
