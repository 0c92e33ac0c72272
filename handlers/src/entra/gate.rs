//! The webhook's Microsoft Entra check as the hosts call it: the bearer token out of the
//! `Authorization` header, its header, the tenant's key for it, then the token's checks.

use super::{
    keys::{KeyCache, Lookup},
    refusal::{EntraError, Refusal},
    settings::EntraSettings,
    token,
};

/// Lets in the deliveries whose bearer token the tenant issued to the caller, for this app,
/// with the role; holds the tenant's signing keys.
#[derive(Debug)]
pub struct Gate {
    settings: EntraSettings,
    keys: KeyCache,
}

impl Gate {
    /// A gate for `settings`; no key is fetched until [`Gate::start`] or the first token.
    pub fn new(settings: EntraSettings) -> Gate {
        let keys = KeyCache::new(settings.keys_url());
        Gate { settings, keys }
    }

    /// Fetches the tenant's keys now (at start-up), and says how many there are: none when the
    /// authority could not be reached (logged; the first token asks again).
    pub async fn start(&self) -> usize {
        self.keys.start().await.unwrap_or(0)
    }

    /// How many signing keys are held.
    fn key_count(&self) -> usize {
        self.keys.count()
    }

    /// Lets a delivery in by its `Authorization` header, or says which check refused it; or
    /// that no key is there to check it with.
    pub async fn admit(&self, authorization: Option<&str>) -> Result<(), EntraError> {
        let token = bearer(authorization)?;
        let kid = token::key_id(token)?;
        let key = match self.keys.key(&kid).await {
            Lookup::Found(key) => key,
            Lookup::Unknown => return Err(Refusal::UnknownKey.into()),
            Lookup::NoKeys | Lookup::NotRechecked => return Err(EntraError::NoKeys),
        };
        token::verify(token, &key, &self.settings)?;
        Ok(())
    }

    /// The checks, for the ready line: tenant, audience, caller, role and keys held.
    pub fn describe(&self) -> String {
        let settings = &self.settings;
        let role = settings.role.as_deref().unwrap_or("none checked");
        let keys = match self.key_count() {
            0 => "no signing keys yet: deliveries are answered 503 until the authority answers"
                .to_owned(),
            1 => "1 signing key".to_owned(),
            count => format!("{count} signing keys"),
        };
        format!(
            "Microsoft Entra ID (tenant {}, audience {}, caller {}, role {role}; {keys})",
            settings.tenant, settings.audience, settings.caller
        )
    }
}

/// The checks a delivery's `Authorization` header passes or fails on its own, with no key: a
/// bearer token that is a JSON Web Token signed with RS256 and naming its key. Cheap enough
/// to make before a delivery's body is read; [`Gate::admit`] makes them again, and the rest.
pub fn check_form(authorization: Option<&str>) -> Result<(), Refusal> {
    token::key_id(bearer(authorization)?).map(drop)
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(authorization: Option<&str>) -> Result<&str, Refusal> {
    let value = authorization.ok_or(Refusal::Missing)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(Refusal::NotBearer)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(Refusal::NotBearer);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_token_of_a_bearer_header_only() {
        assert_eq!(bearer(Some("Bearer a.b.c")), Ok("a.b.c"));
        assert_eq!(bearer(Some("bearer  a.b.c ")), Ok("a.b.c"));
        assert_eq!(bearer(None), Err(Refusal::Missing));
        for value in ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "a.b.c"] {
            assert_eq!(bearer(Some(value)), Err(Refusal::NotBearer), "{value:?}");
        }
    }

    #[test]
    fn checks_the_form_of_a_token_without_a_key() {
        // {"alg":"RS256","kid":"k1"} and {"alg":"none","kid":"k1"}
        let rs256 = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.e30.c2ln";
        let none = "eyJhbGciOiJub25lIiwia2lkIjoiazEifQ.e30.";
        assert_eq!(check_form(Some(&format!("Bearer {rs256}"))), Ok(()));
        assert_eq!(check_form(None), Err(Refusal::Missing));
        assert_eq!(check_form(Some("Basic a.b.c")), Err(Refusal::NotBearer));
        assert_eq!(check_form(Some("Bearer a.b")), Err(Refusal::Malformed));
        assert!(matches!(
            check_form(Some(&format!("Bearer {none}"))),
            Err(Refusal::Algorithm { .. })
        ));
    }
}
