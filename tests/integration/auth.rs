//! Authentication over real HTTP: missing, wrong and revoked keys get a 401
//! JSON error; a key revoked while the server runs fails at once.

use crate::support::{vocalis, ServerProcess};

fn create_key(data: &std::path::Path, tenant: &str) -> String {
    let output = vocalis(data)
        .args(["keys", "create", "--tenant", tenant])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn wrong_missing_and_revoked_keys_are_401_json() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = create_key(data.path(), "acme");
    let client = reqwest::Client::new();
    let usage = server.url("/v1/usage");

    let ok = client.get(&usage).bearer_auth(&key).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let body: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(body["tenant"], "acme");
    assert_eq!(body["totals"]["sessions"], 0);

    let by_query = client
        .get(format!("{usage}?apiKey={key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);

    for request in [
        client.get(&usage),
        client
            .get(&usage)
            .bearer_auth("sk_live_wrongwrongwrongwrongwrongwrongwrongwr"),
        client.get(&usage).bearer_auth("not-a-jwt"),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized", "{body}");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }

    let revoke = vocalis(data.path())
        .args(["keys", "revoke", &key[..16]])
        .output()
        .unwrap();
    assert!(revoke.status.success());
    let after = client.get(&usage).bearer_auth(&key).send().await.unwrap();
    assert_eq!(
        after.status(),
        401,
        "revoked key still accepted by the running server"
    );
}
