//! The names of the settings the client's URLs and secrets come from, named in its errors; the
//! handlers read them under these names (docs/settings.md). This crate receives values, never
//! reads them.

/// The Azure Resource Manager endpoint (default `https://management.azure.com`).
pub const AML_ARM_ENDPOINT: &str = "AML_ARM_ENDPOINT";
/// The managed identity's token endpoint, set by App Service and Functions.
pub const IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
/// The header value the managed identity's endpoint asks for, set by App Service and Functions.
pub const IDENTITY_HEADER: &str = "IDENTITY_HEADER";
/// A service principal's tenant.
pub const AZURE_TENANT_ID: &str = "AZURE_TENANT_ID";
/// The Microsoft Entra authority (default `https://login.microsoftonline.com`).
pub const AZURE_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";
