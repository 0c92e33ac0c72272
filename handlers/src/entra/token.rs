//! One token's checks, in the order that lets no unchecked byte decide anything: the header
//! first (RS256 and a `kid`, before any key is chosen), then the signature with the tenant's
//! key, then the claims, every one of them required: `exp` and `nbf` with 60 s of leeway,
//! `iss` (the tenant's, v1.0 or v2.0), `aud` (a GUID in either case), the caller (`appid` in
//! v1.0 tokens, `azp` in v2.0) and the role in `roles`.
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
    match claims
        .get("aud")
        .map(|aud| names_audience(aud, &settings.audience))
    {
        None => return Err(Refusal::MissingClaim { claim: "aud" }),
        Some(None) => return Err(Refusal::BadClaim { claim: "aud" }),
        Some(Some(false)) => return Err(Refusal::Audience),
        Some(Some(true)) => {}
    }
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

/// What `jsonwebtoken` checks: RS256 only, `exp`, `nbf`, `iss` and `aud` all required, and
/// every one but `aud` checked (its last check, made here instead, since a GUID is the same
/// GUID in either case and `jsonwebtoken` compares exactly).
fn validation(settings: &EntraSettings) -> Validation {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud"]);
    validation.set_issuer(&[
        settings.issuer(TokenVersion::V1),
        settings.issuer(TokenVersion::V2),
    ]);
    validation
}

/// Whether the `aud` claim (a string, or a list of strings) names `audience`: exactly, or
/// in another case when `audience` is a GUID (a client id); `None` when it is of neither type.
fn names_audience(aud: &Value, audience: &str) -> Option<bool> {
    let client_id = uuid::Uuid::try_parse(audience).is_ok();
    let names =
        |value: &str| value == audience || (client_id && value.eq_ignore_ascii_case(audience));
    match aud {
        Value::String(value) => Some(names(value)),
        Value::Array(values) => values
            .iter()
            .map(|value| value.as_str().map(names))
            .collect::<Option<Vec<bool>>>()
            .map(|named| named.contains(&true)),
        _ => None,
    }
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
    fn a_guid_audience_is_named_in_either_case_and_a_uri_exactly() {
        let client_id = "0b9c2f4e-6d1a-4c3b-8e7f-5a4d3c2b1a09";
        for aud in [
            json!(client_id),
            json!(client_id.to_ascii_uppercase()),
            json!(["api://other", "0B9C2F4E-6d1a-4c3b-8e7f-5a4d3c2b1a09"]),
        ] {
            assert_eq!(names_audience(&aud, client_id), Some(true), "{aud}");
        }
        for aud in [
            json!("0b9c2f4e-6d1a-4c3b-8e7f-5a4d3c2b1a08"),
            json!(format!("{{{client_id}}}")),
            json!("0b9c2f4e6d1a4c3b8e7f5a4d3c2b1a09"),
            json!([]),
        ] {
            assert_eq!(names_audience(&aud, client_id), Some(false), "{aud}");
        }
        assert_eq!(names_audience(&json!("api://aml"), "api://aml"), Some(true));
        assert_eq!(
            names_audience(&json!("api://AML"), "api://aml"),
            Some(false)
        );
        for aud in [json!(7), json!(["api://aml", 7]), json!(null)] {
            assert_eq!(names_audience(&aud, "api://aml"), None, "{aud}");
        }
    }

    #[test]
    fn names_only_registered_claims() {
        assert_eq!(registered("nbf"), "nbf");
        assert_eq!(registered("anything"), "claims");
    }
}
