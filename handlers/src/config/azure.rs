//! How Azure is reached: the ARM endpoint and the credentials, in their order (the managed
//! identity, a service principal, else none: a dry run).

use aml_events::Secret;
use url::Url;

use super::{error::ConfigError, values::token_url};
use crate::{
    entra,
    settings::{
        AML_ARM_ENDPOINT, AZURE_AUTHORITY_HOST, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
        AZURE_TENANT_ID, IDENTITY_ENDPOINT, IDENTITY_HEADER,
    },
};

const DEFAULT_ARM_ENDPOINT: &str = "https://management.azure.com";

/// Where Azure tokens come from (in this order; docs/actions.md).
#[derive(Debug, Clone, PartialEq)]
pub enum Credentials {
    /// App Service / Functions managed identity.
    ManagedIdentity {
        /// `IDENTITY_ENDPOINT`.
        endpoint: Url,
        /// `IDENTITY_HEADER`.
        header: Secret,
        /// `AZURE_CLIENT_ID`: a user-assigned identity.
        client_id: Option<String>,
    },
    /// A Microsoft Entra application with a client secret.
    ServicePrincipal {
        /// `AZURE_TENANT_ID`.
        tenant_id: String,
        /// `AZURE_CLIENT_ID`.
        client_id: String,
        /// `AZURE_CLIENT_SECRET`.
        client_secret: Secret,
        /// `AZURE_AUTHORITY_HOST`.
        authority_host: Url,
    },
    /// No credentials: every Azure action is a dry run.
    None,
}

/// How Azure is reached.
#[derive(Debug, Clone)]
pub struct AzureSettings {
    /// No request goes to Azure: `AML_DRY_RUN=1`, or no credentials.
    pub dry_run: bool,
    /// `AML_ARM_ENDPOINT`.
    pub arm_endpoint: Url,
    /// Credentials, in the order docs/actions.md gives.
    pub credentials: Credentials,
}

/// Reads how Azure is reached through `get`; `dry_run_set` is `AML_DRY_RUN`.
pub(super) fn read(
    get: &dyn Fn(&str) -> Option<String>,
    dry_run_set: bool,
) -> Result<AzureSettings, ConfigError> {
    let arm_endpoint = token_url(
        AML_ARM_ENDPOINT,
        &get(AML_ARM_ENDPOINT).unwrap_or_else(|| DEFAULT_ARM_ENDPOINT.into()),
    )?;
    let credentials = credentials(get)?;
    Ok(AzureSettings {
        dry_run: dry_run_set || credentials == Credentials::None,
        arm_endpoint,
        credentials,
    })
}

fn credentials(get: &dyn Fn(&str) -> Option<String>) -> Result<Credentials, ConfigError> {
    let client_id = get(AZURE_CLIENT_ID);
    match (get(IDENTITY_ENDPOINT), get(IDENTITY_HEADER)) {
        (Some(endpoint), Some(header)) => {
            // The identity endpoint is a loopback URL on App Service; Url::parse keeps it honest.
            let endpoint = token_url(IDENTITY_ENDPOINT, &endpoint)?;
            return Ok(Credentials::ManagedIdentity {
                endpoint,
                header: Secret::new(header),
                client_id,
            });
        }
        (Some(_), None) => {
            return Err(ConfigError::Incomplete {
                name: IDENTITY_ENDPOINT,
                needs: IDENTITY_HEADER,
            });
        }
        (None, Some(_)) => {
            return Err(ConfigError::Incomplete {
                name: IDENTITY_HEADER,
                needs: IDENTITY_ENDPOINT,
            });
        }
        (None, None) => {}
    }
    let authority_host = token_url(
        AZURE_AUTHORITY_HOST,
        &get(AZURE_AUTHORITY_HOST).unwrap_or_else(|| entra::DEFAULT_AUTHORITY.into()),
    )?;
    match (get(AZURE_TENANT_ID), get(AZURE_CLIENT_SECRET)) {
        (Some(tenant_id), Some(client_secret)) => {
            let client_id = client_id.ok_or(ConfigError::Incomplete {
                name: AZURE_CLIENT_SECRET,
                needs: AZURE_CLIENT_ID,
            })?;
            Ok(Credentials::ServicePrincipal {
                tenant_id,
                client_id,
                client_secret: Secret::new(client_secret),
                authority_host,
            })
        }
        (Some(_), None) => Err(ConfigError::Incomplete {
            name: AZURE_TENANT_ID,
            needs: "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET",
        }),
        (None, Some(_)) => Err(ConfigError::Incomplete {
            name: AZURE_CLIENT_SECRET,
            needs: "AZURE_TENANT_ID and AZURE_CLIENT_ID",
        }),
        (None, None) => Ok(Credentials::None),
    }
}
