//! What the webhook's Microsoft Entra ID check is configured with, and the issuers and key URL
//! that follow from it. Values only: `config` reads and checks the settings.

use url::Url;

/// The app role Azure's setup scripts create on the webhook's app and assign to Event Grid.
/// See <https://learn.microsoft.com/azure/event-grid/scripts/powershell-webhook-secure-delivery-microsoft-entra-app>.
pub const DEFAULT_ROLE: &str = "AzureEventGridSecureWebhookSubscriber";

/// Event Grid's own application id in Azure's public cloud: the caller of every delivery.
/// Azure Government's is [`EVENT_GRID_APP_ID_GOVERNMENT`]. Same source as [`DEFAULT_ROLE`].
pub const EVENT_GRID_APP_ID: &str = "4962773b-9cdb-44cf-a8bf-237846a00ab7";

/// Event Grid's application id in Azure Government.
pub const EVENT_GRID_APP_ID_GOVERNMENT: &str = "54316b56-3481-47f9-8f30-0300f5542a7b";

/// Microsoft Entra's authority in Azure's public cloud (`AZURE_AUTHORITY_HOST`'s default, for
/// the handlers' own Azure tokens too).
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// The issuer of v1.0 access tokens, in front of the tenant id, whatever the authority.
/// See <https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference>.
const V1_ISSUER_PREFIX: &str = "https://sts.windows.net/";

/// Who may deliver to the webhook: tokens issued by one tenant, for one app, to one caller,
/// with one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraSettings {
    /// The tenant id (a GUID) that issues the tokens.
    pub tenant: String,
    /// The webhook app's client id or application id URI: the tokens' `aud`.
    pub audience: String,
    /// The app role the caller must hold (`roles`); `None`: no role check.
    pub role: Option<String>,
    /// The caller's application id (`appid` in v1.0 tokens, `azp` in v2.0): Event Grid's.
    pub caller: String,
    /// The authority the keys come from and v2.0 tokens name in `iss`.
    pub authority: Url,
}

/// The version of an access token, told by its issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenVersion {
    /// `iss` `https://sts.windows.net/{tenant}/`, the caller in `appid`.
    V1,
    /// `iss` `{authority}/{tenant}/v2.0`, the caller in `azp`.
    V2,
}

impl TokenVersion {
    /// The claim that names the calling application in tokens of this version.
    pub fn caller_claim(self) -> &'static str {
        match self {
            TokenVersion::V1 => "appid",
            TokenVersion::V2 => "azp",
        }
    }
}

impl EntraSettings {
    /// The tenant's signing keys: `{authority}/{tenant}/discovery/v2.0/keys` (the `jwks_uri`
    /// of the tenant's OpenID configuration; v1.0 and v2.0 tokens are signed with the same keys).
    /// See <https://learn.microsoft.com/entra/identity-platform/signing-key-rollover>.
    pub fn keys_url(&self) -> String {
        format!(
            "{}/{}/discovery/v2.0/keys",
            self.authority_base(),
            self.tenant
        )
    }

    /// The issuer a token of `version` from this tenant carries.
    pub fn issuer(&self, version: TokenVersion) -> String {
        match version {
            TokenVersion::V1 => format!("{V1_ISSUER_PREFIX}{}/", self.tenant),
            TokenVersion::V2 => format!("{}/{}/v2.0", self.authority_base(), self.tenant),
        }
    }

    /// The version of a token whose issuer is `iss`, when it is this tenant's.
    pub fn version_of(&self, iss: &str) -> Option<TokenVersion> {
        [TokenVersion::V1, TokenVersion::V2]
            .into_iter()
            .find(|version| self.issuer(*version) == iss)
    }

    fn authority_base(&self) -> &str {
        self.authority.as_str().trim_end_matches('/')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(authority: &str) -> EntraSettings {
        EntraSettings {
            tenant: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
            audience: "api://aml-handlers".into(),
            role: Some(DEFAULT_ROLE.into()),
            caller: EVENT_GRID_APP_ID.into(),
            authority: Url::parse(authority).unwrap(),
        }
    }

    #[test]
    fn keys_and_issuers_follow_the_authority_and_tenant() {
        let settings = settings("https://login.microsoftonline.com/");
        assert_eq!(
            settings.keys_url(),
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/discovery/v2.0/keys"
        );
        assert_eq!(
            settings.issuer(TokenVersion::V1),
            "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/"
        );
        assert_eq!(
            settings.issuer(TokenVersion::V2),
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
        );
    }

    #[test]
    fn tells_the_version_from_the_issuer_and_nothing_else() {
        let settings = settings("http://127.0.0.1:9999");
        assert_eq!(
            settings.version_of("https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/"),
            Some(TokenVersion::V1)
        );
        assert_eq!(
            settings.version_of("http://127.0.0.1:9999/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"),
            Some(TokenVersion::V2)
        );
        for other in [
            "https://sts.windows.net/00000000-0000-0000-0000-000000000000/",
            "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47",
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
            "",
        ] {
            assert_eq!(settings.version_of(other), None, "{other}");
        }
    }
}
