//! One token's checks, in the order that lets no unchecked byte decide anything: the header
//! first (RS256 and a `kid`, before any key is chosen), then the signature with the tenant's
//! key, then the claims, every one of them required: `exp` and `nbf` with 60 s of leeway,
//! `iss` (the tenant's, v1.0 or v2.0), `aud`, the caller (`appid` in v1.0 tokens, `azp` in
//! v2.0) and the role in `roles`.
//!
//! `jsonwebtoken` checks the signature and the registered claims; its defaults require only
//! `exp`, so every claim is named here. See
//! <https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference> for
//! the claims of each token version, and
//! <https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-tokens>.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    refusal::Refusal,
    settings::{EntraSettings, TokenVersion},
};

/// The most clock skew forgiven on `exp` and `nbf`, in seconds.
const LEEWAY_SECONDS: u64 = 60;
/// The most of a refused `alg` repeated in an answer.
const ALG_SHOWN: usize = 16;

/// The part of a token's header read before its signature is checked.
#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
}

/// The `kid` of a token signed with RS256, read from its header; any other algorithm (`none`,
/// HMAC signed with the public key, ...) is refused before a key is chosen.
pub(super) fn key_id(token: &str) -> Result<String, Refusal> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed);
    };
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| Refusal::Malformed)?;
    let header: Header = serde_json::from_slice(&header).map_err(|_| Refusal::Malformed)?;
    match header.alg.as_deref() {
        Some("RS256") => {}
        found => {
            return Err(Refusal::Algorithm {
                found: found.unwrap_or("no alg").chars().take(ALG_SHOWN).collect(),
            });
        }
    }
    header
        .kid
        .filter(|kid| !kid.is_empty())
        .ok_or(Refusal::NoKeyId)
}

/// Checks `token`'s signature with `key`, then its claims against `settings`.
pub(super) fn verify(
    token: &str,
    key: &DecodingKey,
    settings: &EntraSettings,
) -> Result<(), Refusal> {
    let claims = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation(settings))
        .map_err(|err| refusal(err.kind(), settings))?
        .claims;
    // `iss` is one of the tenant's two issuers by now; which one tells where the caller is.
    let version = claims
        .get("iss")
        .and_then(Value::as_str)
        .and_then(|iss| settings.version_of(iss))
        .ok_or_else(|| Refusal::Issuer {
            tenant: settings.tenant.clone(),
        })?;
    let claim = version.caller_claim();
    match claims.get(claim) {
        None => return Err(Refusal::MissingClaim { claim }),
        Some(Value::String(caller)) if *caller == settings.caller => {}
        Some(Value::String(_)) => return Err(Refusal::Caller { claim }),
        Some(_) => return Err(Refusal::BadClaim { claim }),
    }
    if let Some(role) = &settings.role {
        let roles = match claims.get("roles") {
            None => return Err(Refusal::MissingClaim { claim: "roles" }),
            Some(Value::Array(roles)) => roles,
            Some(_) => return Err(Refusal::BadClaim { claim: "roles" }),
        };
        if !roles.iter().any(|held| held.as_str() == Some(role)) {
            return Err(Refusal::Role { role: role.clone() });
        }
    }
    Ok(())
}

/// What `jsonwebtoken` checks: RS256 only, and `exp`, `nbf`, `iss` and `aud` all required.
fn validation(settings: &EntraSettings) -> Validation {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud"]);
    validation.set_issuer(&[
        settings.issuer(TokenVersion::V1),
        settings.issuer(TokenVersion::V2),
    ]);
    validation.set_audience(&[settings.audience.as_str()]);
    validation
}

/// The check a `jsonwebtoken` error stands for.
fn refusal(kind: &ErrorKind, settings: &EntraSettings) -> Refusal {
    match kind {
        ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => Refusal::Signature,
        ErrorKind::ExpiredSignature => Refusal::Expired,
        ErrorKind::ImmatureSignature => Refusal::NotYetValid,
        ErrorKind::InvalidIssuer => Refusal::Issuer {
            tenant: settings.tenant.clone(),
        },
        ErrorKind::InvalidAudience => Refusal::Audience,
        ErrorKind::MissingRequiredClaim(claim) => Refusal::MissingClaim {
            claim: registered(claim),
        },
        ErrorKind::InvalidClaimFormat(claim) => Refusal::BadClaim {
            claim: registered(claim),
        },
        _ => Refusal::Malformed,
    }
}

/// The registered claim `jsonwebtoken` named, as a name that outlives the error.
fn registered(claim: &str) -> &'static str {
    ["exp", "nbf", "iss", "aud", "sub"]
        .into_iter()
        .find(|known| *known == claim)
        .unwrap_or("claims")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn token(header: Value) -> String {
        let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
        format!("{}.{}.c2ln", part(&header), part(&json!({"aud": "a"})))
    }

    #[test]
    fn reads_the_kid_of_an_rs256_token() {
        assert_eq!(
            key_id(&token(json!({"alg": "RS256", "typ": "JWT", "kid": "k1"}))),
            Ok("k1".to_owned())
        );
    }

    // The algorithm-confusion attack and unsigned tokens are refused on the header alone.
    // See <https://www.rfc-editor.org/rfc/rfc8725#section-3.1>.
    #[test]
    fn refuses_every_other_algorithm_before_choosing_a_key() {
        for alg in ["none", "None", "HS256", "RS384", "PS256", "ES256", "rs256"] {
            assert_eq!(
                key_id(&token(json!({"alg": alg, "kid": "k1"}))),
                Err(Refusal::Algorithm { found: alg.into() }),
                "{alg}"
            );
        }
        assert_eq!(
            key_id(&token(json!({"kid": "k1"}))),
            Err(Refusal::Algorithm {
                found: "no alg".into()
            })
        );
        let long = "X".repeat(100);
        let Err(Refusal::Algorithm { found }) = key_id(&token(json!({"alg": long, "kid": "k"})))
        else {
            panic!("refused")
        };
        assert_eq!(found.len(), ALG_SHOWN);
    }

    #[test]
    fn refuses_what_is_not_a_signed_token() {
        for text in [
            "",
            "abc",
            "a.b",
            "a.b.c.d",
            "!!!.e30.c2ln",
            &format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode("not json")),
        ] {
            assert_eq!(key_id(text), Err(Refusal::Malformed), "{text:?}");
        }
        assert_eq!(
            key_id(&token(json!({"alg": "RS256"}))),
            Err(Refusal::NoKeyId)
        );
        assert_eq!(
            key_id(&token(json!({"alg": "RS256", "kid": ""}))),
            Err(Refusal::NoKeyId)
        );
    }

    #[test]
    fn names_only_registered_claims() {
        assert_eq!(registered("nbf"), "nbf");
        assert_eq!(registered("anything"), "claims");
    }
}
