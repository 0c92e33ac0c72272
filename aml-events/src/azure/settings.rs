//! The names of the settings the client's URLs and secrets come from, named in its errors. They
//! mirror the `const`s of the handlers' `config.rs` (docs/settings.md); this crate receives values,
//! never reads them.

pub(super) const AML_ARM_ENDPOINT: &str = "AML_ARM_ENDPOINT";
pub(super) const IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
pub(super) const IDENTITY_HEADER: &str = "IDENTITY_HEADER";
pub(super) const AZURE_TENANT_ID: &str = "AZURE_TENANT_ID";
pub(super) const AZURE_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";
