//! Where the load goes and with which key: the target URL (loopback only
//! unless `--allow-remote`), the developer key of a local server, and what
//! the server says about itself (`/ws/health`) for the report.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};

/// The developer key a local server wrote on first start.
pub fn default_key() -> anyhow::Result<String> {
    let dir = std::env::var_os("VOCALIS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(vocalis_server::config::default_data_dir);
    let path = dir.join("dev-api-key");
    let key = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no --key or VOCALIS_API_KEY, and cannot read {}",
            path.display()
        )
    })?;
    Ok(key.trim().to_owned())
}

/// `ws://host:port` for `url`, refusing non-loopback hosts without `allow_remote`.
pub async fn check_target(url: &str, allow_remote: bool) -> anyhow::Result<String> {
    let parsed = url::Url::parse(url).with_context(|| format!("bad --url {url}"))?;
    let scheme = match parsed.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => bail!("--url: TLS is not supported; use ws:// or http://"),
        other => bail!("--url: unsupported scheme {other}"),
    };
    let host = parsed.host_str().context("--url has no host")?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    if !allow_remote {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<IpAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .with_context(|| format!("cannot resolve {bare}"))?
                .map(|a| a.ip())
                .collect(),
        };
        if addrs.is_empty() || !addrs.iter().all(IpAddr::is_loopback) {
            bail!("{host} is not a loopback address; pass --allow-remote to load a remote server");
        }
    }
    Ok(format!("{scheme}://{host}:{port}"))
}

/// The server's `/ws/health` report (version, models, workers), or `None`
/// when it does not answer within 5 s.
pub async fn server_health(base_url: &str) -> Option<serde_json::Value> {
    use futures_util::StreamExt as _;
    let url = format!("{base_url}/ws/health");
    let read = async {
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.ok()?;
        for _ in 0..4 {
            if let tokio_tungstenite::tungstenite::Message::Text(text) =
                socket.next().await?.ok()?
            {
                let _ = socket.close(None).await;
                return serde_json::from_str(&text).ok();
            }
        }
        None
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), read)
        .await
        .ok()
        .flatten()
}

/// The CPU model from `/proc/cpuinfo`.
pub fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_loopback_targets_without_allow_remote() {
        assert_eq!(
            check_target("ws://127.0.0.1:8080", false).await.unwrap(),
            "ws://127.0.0.1:8080"
        );
        assert_eq!(
            check_target("http://[::1]:9", false).await.unwrap(),
            "ws://[::1]:9"
        );
        assert_eq!(
            check_target("ws://localhost:9", false).await.unwrap(),
            "ws://localhost:9"
        );
        assert!(check_target("ws://10.0.0.1:8080", false).await.is_err());
        assert!(check_target("ws://192.0.2.1:8080", true).await.is_ok());
        assert!(check_target("wss://127.0.0.1", false).await.is_err());
    }
}
