//! A step's handle on GitHub: the repository and token (resolved by their one precedence),
//! the run's paced client for them, and every failure already classified into the setting,
//! scope or permission to change.
//!
//! A step calls the client through [`GithubApi::call`] and gets a [`GithubError`] back, never a
//! raw [`ApiError`]: the diagnosis is made here, once, for every GitHub step.

use std::future::Future;

use crate::github::client::{ApiError, GithubClient};
use crate::github::diagnose::GithubError;
use crate::github::target::Target;

/// The run's GitHub session for one `[github]` table, as a step sees it.
pub(crate) struct GithubApi<'a> {
    pub(crate) target: Target,
    pub(crate) client: GithubClient<'a>,
}

impl GithubApi<'_> {
    /// Awaits one request made with [`GithubApi::client`], classifying its failure.
    pub(crate) async fn call<T>(&self, request: impl Future<Output = Result<T, ApiError>>) -> Result<T, GithubError> {
        request.await.map_err(|e| self.classify(e))
    }

    /// What a failed request made with this session's token means.
    pub(crate) fn classify(&self, error: ApiError) -> GithubError {
        GithubError::classify(error, &self.target)
    }
}
