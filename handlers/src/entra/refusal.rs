//! Why a delivery's Microsoft Entra token was not accepted: a check it failed (401, named, the
//! token never shown), or no signing key to check it with (503, so that Event Grid retries).

/// The check a token failed. Each message names the check, and none holds the token or any
/// claim's value from it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No `Authorization` header.
    #[error("token: no Authorization header; send Authorization: Bearer <token>")]
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    #[error("token: the Authorization header is not Bearer <token>")]
    NotBearer,
    /// Not three base64url parts with a JSON header.
    #[error("token: not a JSON Web Token (three base64url parts, a JSON header)")]
    Malformed,
    /// Signed with another algorithm than RS256 (`none`, HMAC, anything else).
    #[error("alg: the token is signed with {found:?}; only RS256 is accepted")]
    Algorithm {
        /// The header's `alg`, cut short.
        found: String,
    },
    /// The header names no key.
    #[error("kid: the token names no signing key")]
    NoKeyId,
    /// The key the header names is not among the tenant's keys fetched in the last five minutes.
    #[error("kid: the token's signing key is not among the tenant's keys")]
    UnknownKey,
    /// The signature does not verify with the tenant's key: forged or altered.
    #[error("signature: the token's signature does not verify with the tenant's key")]
    Signature,
    /// A required claim is absent.
    #[error("{claim}: the token has no {claim} claim")]
    MissingClaim {
        /// The claim.
        claim: &'static str,
    },
    /// A claim is there but not of its type (a number, a string, a list of strings).
    #[error("{claim}: the token's {claim} claim is not of its type")]
    BadClaim {
        /// The claim.
        claim: &'static str,
    },
    /// `exp` is past, by more than the leeway.
    #[error("exp: the token has expired")]
    Expired,
    /// `nbf` is ahead, by more than the leeway.
    #[error("nbf: the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the tenant's, in either token version.
    #[error(
        "iss: the token was not issued by tenant {tenant} (https://sts.windows.net/{tenant}/ or <authority>/{tenant}/v2.0)"
    )]
    Issuer {
        /// The tenant expected.
        tenant: String,
    },
    /// `aud` is not the configured audience.
    #[error("aud: the token is not for this webhook's app (AML_WEBHOOK_ENTRA_AUDIENCE)")]
    Audience,
    /// The calling application is not Event Grid (or the configured caller).
    #[error(
        "{claim}: the token was issued to another application than the caller (AML_WEBHOOK_ENTRA_CALLER)"
    )]
    Caller {
        /// `appid` (v1.0 tokens) or `azp` (v2.0).
        claim: &'static str,
    },
    /// `roles` lacks the role.
    #[error("roles: the caller does not hold the app role {role}")]
    Role {
        /// The role expected.
        role: String,
    },
}

impl Refusal {
    /// The check that failed, as the start of the message names it (`exp`, `aud`, `kid`, ...).
    pub fn check(&self) -> &'static str {
        match self {
            Refusal::Missing | Refusal::NotBearer | Refusal::Malformed => "token",
            Refusal::Algorithm { .. } => "alg",
            Refusal::NoKeyId | Refusal::UnknownKey => "kid",
            Refusal::Signature => "signature",
            Refusal::MissingClaim { claim } | Refusal::BadClaim { claim } => claim,
            Refusal::Expired => "exp",
            Refusal::NotYetValid => "nbf",
            Refusal::Issuer { .. } => "iss",
            Refusal::Audience => "aud",
            Refusal::Caller { claim } => claim,
            Refusal::Role { .. } => "roles",
        }
    }

    /// The `WWW-Authenticate` challenge of the 401 (RFC 6750, section 3): a bare `Bearer` when
    /// no token came, `invalid_token` naming the check when one did.
    /// See <https://www.rfc-editor.org/rfc/rfc6750#section-3>.
    pub fn challenge(&self) -> String {
        match self {
            Refusal::Missing => "Bearer".to_owned(),
            other => format!(
                "Bearer error=\"invalid_token\", error_description=\"{} check failed\"",
                other.check()
            ),
        }
    }
}

/// Why a delivery was not let in by its Microsoft Entra token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntraError {
    /// The token is missing or fails a check: 401, which Event Grid does not retry.
    #[error("Microsoft Entra ID token refused")]
    Refused(#[from] Refusal),
    /// No key to check the token with, and no word from the authority that there is none: no
    /// signing key was ever fetched, or the token names one not held and no key set was fetched
    /// in the last five minutes (the authority could not be reached, or was asked less than five
    /// minutes ago, in vain). 503, so that Event Grid retries rather than dead-letters a
    /// delivery that may well be good (signed with a newly rolled key).
    #[error(
        "Microsoft Entra ID: no signing key to check the token with (the authority could not be reached); Event Grid will retry"
    )]
    NoKeys,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_message_starts_with_the_check_it_names() {
        let refusals = [
            Refusal::Missing,
            Refusal::NotBearer,
            Refusal::Malformed,
            Refusal::Algorithm {
                found: "none".into(),
            },
            Refusal::NoKeyId,
            Refusal::UnknownKey,
            Refusal::Signature,
            Refusal::MissingClaim { claim: "nbf" },
            Refusal::BadClaim { claim: "roles" },
            Refusal::Expired,
            Refusal::NotYetValid,
            Refusal::Issuer { tenant: "t".into() },
            Refusal::Audience,
            Refusal::Caller { claim: "azp" },
            Refusal::Role { role: "R".into() },
        ];
        for refusal in refusals {
            let message = refusal.to_string();
            assert!(
                message.starts_with(&format!("{}: ", refusal.check())),
                "{message}"
            );
            assert!(refusal.challenge().starts_with("Bearer"), "{refusal:?}");
        }
    }

    #[test]
    fn a_missing_token_gets_a_bare_challenge() {
        assert_eq!(Refusal::Missing.challenge(), "Bearer");
        assert_eq!(
            Refusal::Expired.challenge(),
            "Bearer error=\"invalid_token\", error_description=\"exp check failed\""
        );
    }
}
