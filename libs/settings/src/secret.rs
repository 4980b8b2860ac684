//! Values that must never be printed: tokens, and URLs that may carry a password.
//!
//! `Debug`, `Display` and `Serialize` all show the redacted form, so printing or dumping
//! the settings cannot leak them; code that needs the real value calls `expose_secret`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const REDACTED: &str = "***";

/// Query parameters whose value is a secret, in any URL.
const SECRET_QUERY_KEYS: &[&str] = &[
    "password",
    "sslpassword",
    "pass",
    "token",
    "auth_token",
    "secret",
];

/// Schemes whose user-only userinfo (`nats://TOKEN@host`) is itself a token.
const TOKEN_USERINFO_SCHEMES: &[&str] = &["nats", "tls", "ws", "wss"];

/// A secret string, such as a token. Prints as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The real value; never log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

/// A connection URL (or a comma-separated list of them) that may carry credentials.
/// Prints with the password, and any token, replaced: `postgres://postgres:***@host/db`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The real URL, credentials included; never log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The URL with its credentials replaced by `***`, safe to print.
    pub fn redacted(&self) -> String {
        redact_connection_string(&self.0)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:?}", self.redacted())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.redacted())
    }
}

impl Serialize for SecretUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for SecretUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

/// Redacts a URL, a comma-separated list of URLs, or a libpq `key=value` string.
pub(crate) fn redact_connection_string(raw: &str) -> String {
    let is_key_value_string = raw.contains('=') && !raw.contains("://");
    if is_key_value_string {
        // Hard to take apart safely (quotes, escapes): hide all of it when it may hold a
        // password.
        let lowercase = raw.to_ascii_lowercase();
        if SECRET_QUERY_KEYS.iter().any(|key| lowercase.contains(key)) {
            return REDACTED.to_owned();
        }
        return raw.to_owned();
    }
    raw.split(',')
        .map(redact_one_url)
        .collect::<Vec<_>>()
        .join(",")
}

fn redact_one_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        // `user:password@host:port` or `token@host:port`, without a scheme.
        return match url.rfind('@') {
            Some(at) => format!("{REDACTED}{}", &url[at..]),
            None => url.to_owned(),
        };
    };
    let scheme = url[..scheme_end].trim().to_ascii_lowercase();
    let after_scheme = &url[scheme_end + 3..];
    let authority_end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let authority = &after_scheme[..authority_end];
    let rest = &after_scheme[authority_end..];

    let redacted_authority = match authority.rfind('@') {
        None => authority.to_owned(),
        Some(at) => {
            let userinfo = &authority[..at];
            let host = &authority[at..];
            match userinfo.find(':') {
                Some(colon) => format!("{}:{REDACTED}{host}", &userinfo[..colon]),
                None if TOKEN_USERINFO_SCHEMES.contains(&scheme.as_str()) => {
                    format!("{REDACTED}{host}")
                }
                None => authority.to_owned(),
            }
        }
    };
    format!(
        "{}://{redacted_authority}{}",
        &url[..scheme_end],
        redact_query(rest)
    )
}

/// Redacts secret parameters in the `/path?query#fragment` part of a URL.
fn redact_query(path_query_fragment: &str) -> String {
    let Some(question_mark) = path_query_fragment.find('?') else {
        return path_query_fragment.to_owned();
    };
    let path = &path_query_fragment[..question_mark];
    let after_path = &path_query_fragment[question_mark + 1..];
    let query_end = after_path.find('#').unwrap_or(after_path.len());
    let query = &after_path[..query_end];
    let fragment = &after_path[query_end..];

    let redacted_pairs: Vec<String> = query
        .split('&')
        .map(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            let key_is_secret = SECRET_QUERY_KEYS.contains(&key.to_ascii_lowercase().as_str());
            if key_is_secret && pair.contains('=') {
                format!("{key}={REDACTED}")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    format!("{path}?{}{fragment}", redacted_pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_password_is_replaced() {
        let url = SecretUrl::new("postgres://postgres:hunter2@db.internal:5432/sortie");
        assert_eq!(
            url.to_string(),
            "postgres://postgres:***@db.internal:5432/sortie"
        );
        assert_eq!(
            format!("{url:?}"),
            "\"postgres://postgres:***@db.internal:5432/sortie\""
        );
        assert_eq!(
            url.expose_secret(),
            "postgres://postgres:hunter2@db.internal:5432/sortie"
        );
    }

    #[test]
    fn user_without_password_is_kept() {
        let url = SecretUrl::new("postgres://postgres@127.0.0.1:5432/sortie");
        assert_eq!(url.to_string(), "postgres://postgres@127.0.0.1:5432/sortie");
    }

    #[test]
    fn password_with_at_sign_and_query_secrets_are_replaced() {
        let url =
            SecretUrl::new("postgresql://me:p@ss:w0rd@host/db?sslmode=require&password=other#frag");
        assert_eq!(
            url.to_string(),
            "postgresql://me:***@host/db?sslmode=require&password=***#frag"
        );
    }

    #[test]
    fn nats_token_userinfo_and_server_lists_are_replaced() {
        let url = SecretUrl::new("nats://s3cr3t@a:4222,nats://user:pw@b:4222,user:pw@c:4222");
        assert_eq!(
            url.to_string(),
            "nats://***@a:4222,nats://user:***@b:4222,***@c:4222"
        );
    }

    #[test]
    fn key_value_strings_with_a_password_are_hidden_whole() {
        let url = SecretUrl::new("host=db user=sortie password='a b'");
        assert_eq!(url.to_string(), "***");
        let url = SecretUrl::new("host=db user=sortie");
        assert_eq!(url.to_string(), "host=db user=sortie");
    }

    #[test]
    fn secret_never_prints_its_value() {
        let token = Secret::new("tok-123");
        assert_eq!(token.to_string(), "***");
        assert_eq!(format!("{token:?}"), "***");
        assert_eq!(token.expose_secret(), "tok-123");
    }
}
