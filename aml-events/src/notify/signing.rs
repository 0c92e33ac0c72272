//! Signed notices for plain `webhook` targets, as the Standard Webhooks specification signs them,
//! so that a team's own receiver can tell a notice came from these handlers and was not
//! replayed by someone else, with the Standard Webhooks library of its language.
//! See <https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>.
//!
//! Three headers go with each attempt: `webhook-id` (the same for an event and a target on
//! every retry, redelivery and instance, so a receiver can drop repeats), `webhook-timestamp`
//! (Unix seconds at sending, so a retry is fresh) and `webhook-signature`
//! (`v1,<base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`).
//!
//! It does not sign for other kinds (Teams, Slack, Discord and PagerDuty verify no signature;
//! the settings refuse a secret on them) and does not verify: receivers do that.

use std::fmt;

use base64::{Engine as _, engine::general_purpose::GeneralPurpose};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Notice;

/// The setting that holds the secret `AML_NOTIFY_URL`'s webhook targets are signed with.
pub const AML_NOTIFY_SECRET: &str = "AML_NOTIFY_SECRET";

/// What a secret looks like, for messages: the form Standard Webhooks libraries make.
pub const SECRET_FORM: &str = "whsec_ followed by the base64 of 24 to 64 random bytes";

/// The prefix of a Standard Webhooks secret.
const PREFIX: &str = "whsec_";

/// The key lengths the specification asks for, in bytes.
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// Standard base64, padded or not: the libraries read both, and write the padded form.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// The header naming the message: one per event and target ([`webhook_id`]).
pub const WEBHOOK_ID: &str = "webhook-id";
/// The header holding the attempt's time, in Unix seconds.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// The header holding the signature, `v1,<base64>` ([`SigningKey::sign`]).
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// A webhook target's signing key. `Debug` prints only the type's name; two keys are equal
/// when their bytes are, however written.
#[derive(Clone)]
pub struct SigningKey {
    /// The key's bytes.
    key: Vec<u8>,
    /// The secret as written, kept to be removed from any answer a target echoes.
    written: String,
}

/// A secret that is not a Standard Webhooks secret; never repeats its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningKeyError {
    /// It does not start with `whsec_`.
    #[error("it does not start with whsec_")]
    NoPrefix,
    /// What follows `whsec_` is not standard base64.
    #[error("what follows whsec_ is not standard base64")]
    NotBase64,
    /// The key is too short or too long.
    #[error("its key is {bytes} bytes long, not 24 to 64")]
    Length {
        /// The key's length.
        bytes: usize,
    },
}

impl SigningKey {
    /// Reads a secret written as Standard Webhooks libraries make it: `whsec_` and the base64
    /// of 24 to 64 bytes.
    pub fn parse(text: &str) -> Result<SigningKey, SigningKeyError> {
        let written = text.trim();
        let encoded = written
            .strip_prefix(PREFIX)
            .ok_or(SigningKeyError::NoPrefix)?;
        let key = BASE64
            .decode(encoded)
            .map_err(|_| SigningKeyError::NotBase64)?;
        if !KEY_BYTES.contains(&key.len()) {
            return Err(SigningKeyError::Length { bytes: key.len() });
        }
        Ok(SigningKey {
            key,
            written: written.to_owned(),
        })
    }

    /// `webhook-signature` for `body` sent as message `id` at `timestamp` (Unix seconds):
    /// `v1,` and the base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        // Any key length suits HMAC.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        format!("v1,{signature}")
    }

    /// The texts an error must never repeat: the secret as written, and its base64 part.
    pub(crate) fn secrets(&self) -> [&str; 2] {
        [
            &self.written,
            self.written.strip_prefix(PREFIX).unwrap_or(&self.written),
        ]
    }
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &SigningKey) -> bool {
        self.key == other.key
    }
}

impl Eq for SigningKey {}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

/// `webhook-id` for `notice` sent to the target whose identity is `target`
/// ([`Target::ledger_id`](super::Target::ledger_id): its kind and URL, fingerprinted): `msg_`
/// and 32 hex digits of a SHA-256 over the event's source (else its workspace) and id and the
/// target's identity. Every retry, redelivery and instance sends the same one, so a receiver
/// can drop repeats; another event (of another source too), or another target, has another.
/// Changing the secret keeps it.
pub fn webhook_id(notice: &Notice, target: &str) -> String {
    // Line breaks cannot occur in a source URI or a target's identity, so the parts cannot
    // run into each other; the event id comes last and may hold anything.
    let source = (notice.source.as_deref()).or(notice.workspace.as_deref());
    let text = format!(
        "{}\n{}\n{}",
        source.unwrap_or_default(),
        target,
        notice.event_id
    );
    format!("msg_{}", crate::redact::sha256_hex(&text, 16))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's own example, which its libraries test against.
    /// See <https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/python/tests/test_webhooks.py>.
    #[test]
    fn signs_the_specifications_example() {
        let key = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            key.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn only_whsec_and_the_base64_of_24_to_64_bytes_is_a_secret() {
        let of = |bytes: usize| format!("whsec_{}", BASE64.encode(vec![7u8; bytes]));
        for good in [of(24), of(32), of(64), format!(" {} ", of(32))] {
            assert!(SigningKey::parse(&good).is_ok(), "{good}");
        }
        let unpadded = of(32).trim_end_matches('=').to_owned();
        assert_eq!(SigningKey::parse(&unpadded), SigningKey::parse(&of(32)));
        for (bad, wanted) in [
            (BASE64.encode([7u8; 32]), SigningKeyError::NoPrefix),
            ("whsec_not base64!".to_owned(), SigningKeyError::NotBase64),
            // URL-safe base64 reads as another key in the libraries: refused.
            (
                format!("whsec_{}", "_-".repeat(16)),
                SigningKeyError::NotBase64,
            ),
            (of(16), SigningKeyError::Length { bytes: 16 }),
            (of(65), SigningKeyError::Length { bytes: 65 }),
            ("whsec_".to_owned(), SigningKeyError::Length { bytes: 0 }),
        ] {
            assert_eq!(SigningKey::parse(&bad), Err(wanted), "{bad}");
        }
    }

    #[test]
    fn a_key_never_prints_and_its_texts_are_known_as_secrets() {
        let written = format!("whsec_{}", BASE64.encode([9u8; 32]));
        let key = SigningKey::parse(&written).unwrap();
        assert_eq!(format!("{key:?}"), "SigningKey(***)");
        assert_eq!(key.secrets(), [written.as_str(), &written[6..]]);
        let err = SigningKey::parse("whsec_c2VjcmV0").unwrap_err().to_string();
        assert!(!err.contains("c2VjcmV0"), "{err}");
    }

    #[test]
    fn a_webhook_id_is_the_same_for_an_event_and_target_and_differs_otherwise() {
        let notice = |workspace: &str, id: &str| Notice {
            workspace: Some(workspace.to_owned()),
            event_id: id.to_owned(),
            ..Notice::default()
        };
        let (hook, other_hook) = ("webhook-0123456789abcdef", "webhook-fedcba9876543210");
        let first = webhook_id(&notice("/ws/a", "event-1"), hook);
        assert!(first.starts_with("msg_") && first.len() == 36, "{first}");
        let mut held = notice("/ws/a", "event-1");
        held.summary = "another text for the same event".into();
        assert_eq!(webhook_id(&held, hook), first);
        for other in [
            webhook_id(&notice("/ws/a", "event-2"), hook),
            webhook_id(&notice("/ws/b", "event-1"), hook),
            webhook_id(&notice("/ws/a", "event-1"), other_hook),
        ] {
            assert_ne!(other, first);
        }
    }

    /// Event ids are unique per source only: two sources that are not workspaces (a custom
    /// topic, say) may both send an `event-1`, and those are two messages.
    #[test]
    fn a_webhook_id_tells_sources_that_are_not_workspaces_apart() {
        let notice = |source: &str| Notice {
            source: Some(source.to_owned()),
            event_id: "event-1".to_owned(),
            ..Notice::default()
        };
        let hook = "webhook-0123456789abcdef";

        assert_ne!(
            webhook_id(&notice("/subscriptions/s/topics/one"), hook),
            webhook_id(&notice("/subscriptions/s/topics/two"), hook)
        );
    }
}
