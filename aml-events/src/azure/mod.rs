//! A client for Azure Machine Learning's REST API: Azure Resource Manager for workspaces,
//! models, computes and jobs, the regional API for run history, and scoring endpoints, with
//! the token handling, retries and time limits docs/actions.md describes.
//!
//! # Layout
//! - [`AmlClient`] (`client`): built once per process from a [`TokenSource`] and
//!   [`AmlClientOptions`] (`options`) and, for tests, a [`Transport`](crate::transport::Transport)
//!   of their own; cheap to clone and shared by every invocation. Each request is a `call`,
//!   its URL built by `url_path`, and a token or key goes only where `token_url` allows
//!   ([`is_token_safe`]). Its operations are grouped by family in private modules: `arm`
//!   (resource groups, workspaces, models, computes, jobs), `runs` (discovery, experiments,
//!   runs), and `scoring`.
//! - [`credential`]: where tokens come from ([`ManagedIdentityCredential`],
//!   [`ClientSecretCredential`]) and [`CachedTokenSource`], one token fetch per scope shared by
//!   concurrent callers.
//! - [`retry`]: [`RetryPolicy`] and the rules for what is retried and how long to wait.
//! - [`error`]: [`ClientError`] (building), [`CredentialError`] (getting a token),
//!   [`CallbackError`] (calling), [`ErrorResponse`] (Azure's error body).
//! - [`models`]: the typed answers ([`Workspace`], [`Run`], [`JobOutcome`], ...).
//!
//! It deliberately does not read the environment (the settings layer passes values in and
//! decides on dry-run), never sends a token or key over plain http except to a loopback
//! address, never prints a token, key or secret, and follows no redirect to plain http.
//!
//! # Example
//! A function of your own that explains why a run failed. Build the client once (from the
//! settings) and pass it, or a clone of it, wherever it is needed:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use aml_events::{
//!     Secret, WorkspaceId,
//!     azure::{AmlClient, AmlClientOptions, CallbackError, ManagedIdentityCredential},
//! };
//!
//! async fn why_did_it_fail(
//!     client: &AmlClient,
//!     workspace: &WorkspaceId,
//!     experiment: &str,
//!     run_id: &str,
//! ) -> Result<String, CallbackError> {
//!     let run = client.get_run(workspace, experiment, run_id).await?;
//!     Ok(match run.error_message() {
//!         Some(message) => format!("run {} failed: {message}", run.run_id),
//!         None => format!("run {} is {}", run.run_id, run.status.as_deref().unwrap_or("unknown")),
//!     })
//! }
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! // App Service / Functions set IDENTITY_ENDPOINT and IDENTITY_HEADER.
//! let credential = ManagedIdentityCredential::new(
//!     std::env::var("IDENTITY_ENDPOINT")?.parse()?,
//!     Secret::new(std::env::var("IDENTITY_HEADER")?),
//!     None,
//! )?;
//! let client = AmlClient::new(Arc::new(credential), AmlClientOptions::default())?;
//!
//! let workspace = WorkspaceId::parse(
//!     "/subscriptions/6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d/resourceGroups/ml-rg\
//!      /providers/Microsoft.MachineLearningServices/workspaces/ml-ws",
//! )
//! .expect("a workspace resource id");
//! match why_did_it_fail(&client, &workspace, "train", "train_1700000000_abcd").await {
//!     Ok(explanation) => println!("{explanation}"),
//!     Err(err) if err.is_transient() => eprintln!("try again later: {err}"),
//!     Err(err) => eprintln!("{err}"),
//! }
//! # Ok(())
//! # }
//! ```

mod arm;
mod call;
mod client;
pub mod credential;
pub mod error;
mod lenient;
pub mod models;
mod options;
pub mod retry;
mod runs;
mod scoring;
pub mod settings;
mod token_url;
mod url_path;

pub use arm::ML_API_VERSION;
pub use client::AmlClient;
pub use credential::{
    ARM_SCOPE, AccessToken, CachedTokenSource, ClientSecretCredential, ManagedIdentityCredential,
    TokenFuture, TokenSource,
};
pub use error::{CallbackError, ClientError, CredentialError, ErrorDetail, ErrorResponse};
pub use models::{
    ArmResource, Compute, DeleteOutcome, Experiment, Job, JobOutcome, Model, ResourceGroup,
    ResourceGroupProperties, Run, RunError, ScoreResponse, StartedRun, Workspace,
    WorkspaceProperties,
};
pub use options::AmlClientOptions;
pub use retry::RetryPolicy;
pub use token_url::{is_loopback, is_token_safe};
