//! `vocalis keys` and the first-start developer key, through the real binary.

use crate::support::{vocalis, ServerProcess};

#[test]
fn first_start_writes_a_private_dev_key_and_logs_only_its_path() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let path = data.path().join("dev-api-key");
    let key = std::fs::read_to_string(&path).expect("dev-api-key written");
    let key = key.trim();
    assert!(key.starts_with("sk_live_"), "{key}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let log = server.log.join("\n");
    assert!(log.contains("dev-api-key"), "{log}");
    assert!(!log.contains(key), "the key itself leaked into the log");
}

#[test]
fn keys_create_list_revoke() {
    let data = tempfile::tempdir().unwrap();
    let created = vocalis(data.path())
        .args(["keys", "create", "--tenant", "acme", "--credits", "25.00"])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let key = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("sk_live_"));
    let prefix = &key[..16];

    let listed = vocalis(data.path())
        .args(["keys", "list"])
        .output()
        .unwrap();
    let listing = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listing.contains(prefix) && listing.contains("acme") && listing.contains("$25.00"),
        "{listing}"
    );
    assert!(!listing.contains(&key), "list must not show whole keys");

    let revoked = vocalis(data.path())
        .args(["keys", "revoke", prefix])
        .output()
        .unwrap();
    assert!(revoked.status.success());
    let listing = String::from_utf8(
        vocalis(data.path())
            .args(["keys", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(listing.contains("revoked"), "{listing}");

    let again = vocalis(data.path())
        .args(["keys", "revoke", prefix])
        .output()
        .unwrap();
    assert!(!again.status.success(), "revoking twice must fail");
}
