//! A client of the orchestrator's HTTP API.

use std::time::Duration;

use serde::de::DeserializeOwned;
use sortie_model::MissionId;
use sortie_model::api::{
    ApiError, ApproveMission, EventView, MissionStatus, MissionSummary, SubmitMission,
    SubmittedMission,
};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the orchestrator at {url} is not answering: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        diagnostics: Vec<String>,
    },
    #[error("the orchestrator answered something unexpected: {0}")]
    Unexpected(String),
}

#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client without TLS always builds");
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn ready(&self) -> Result<(), ClientError> {
        self.get::<serde_json::Value>("/readyz").await.map(|_| ())
    }

    pub async fn submit(&self, request: &SubmitMission) -> Result<SubmittedMission, ClientError> {
        let response = self
            .http
            .post(format!("{}/v1/missions", self.base))
            .json(request)
            .send()
            .await
            .map_err(|error| self.unreachable(&error))?;
        self.read(response).await
    }

    /// Approve a draft's plan version.
    pub async fn approve(
        &self,
        id: MissionId,
        request: &ApproveMission,
    ) -> Result<MissionSummary, ClientError> {
        self.post(&format!("/v1/missions/{id}/approve"), request)
            .await
    }

    /// Launch an approved mission.
    pub async fn launch(&self, id: MissionId, by: &str) -> Result<serde_json::Value, ClientError> {
        self.post(
            &format!("/v1/missions/{id}/launch"),
            &serde_json::json!({ "by": by }),
        )
        .await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, ClientError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .map_err(|error| self.unreachable(&error))?;
        self.read(response).await
    }

    pub async fn missions(&self) -> Result<Vec<MissionSummary>, ClientError> {
        self.get("/v1/missions").await
    }

    pub async fn mission(&self, id: MissionId) -> Result<MissionStatus, ClientError> {
        self.get(&format!("/v1/missions/{id}")).await
    }

    pub async fn events(&self, id: MissionId, after: i64) -> Result<Vec<EventView>, ClientError> {
        self.get(&format!("/v1/missions/{id}/events?after={after}"))
            .await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|error| self.unreachable(&error))?;
        self.read(response).await
    }

    fn unreachable(&self, error: &reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            url: self.base.clone(),
            reason: error.to_string(),
        }
    }

    async fn read<T: DeserializeOwned>(
        &self,
        response: reqwest::Response,
    ) -> Result<T, ClientError> {
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|error| self.unreachable(&error))?;
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|error| ClientError::Unexpected(error.to_string()));
        }
        match serde_json::from_slice::<ApiError>(&body) {
            Ok(error) => Err(ClientError::Api {
                status: status.as_u16(),
                code: error.error.code,
                message: error.error.message,
                diagnostics: error.error.diagnostics,
            }),
            Err(_) => Err(ClientError::Unexpected(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&body)
            ))),
        }
    }
}
