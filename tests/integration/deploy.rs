//! The deployment files in `deploy/` parse and agree with the server: the
//! compose file (PostgreSQL, two replicas on `VOCALIS_DATABASE_URL`, HAProxy
//! with WebSocket tunnels, sticky cookies and `/readyz` checks), the shared
//! `vocalis.toml` (a valid server config), and the Kubernetes manifests
//! (probes on `/healthz` and `/readyz`, a termination grace longer than the
//! session drain, CPU requests from the capacity benchmark). The YAML is
//! read with serde_yaml_ng.

use serde_json::Value;
use vocalis_server::ServerConfig;

use crate::support::workspace_root;

/// Parses a YAML file into JSON values (serde_yaml_ng, the maintained
/// fork of serde_yaml), so the assertions below read like the manifests.
fn parse_yaml(text: &str) -> Value {
    serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("invalid YAML: {e}"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(workspace_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn seconds(duration: &Value) -> u64 {
    let text = duration.as_str().expect("a duration like 75s");
    text.strip_suffix('s').unwrap().parse().unwrap()
}

#[test]
fn the_compose_file_runs_two_replicas_on_postgres_behind_haproxy() {
    let config = ServerConfig::from_toml_str(&read("deploy/vocalis.toml")).unwrap();
    config.validate().unwrap();
    let drain_s = config.shutdown_grace_ms / 1000;

    let compose = parse_yaml(&read("deploy/compose.yaml"));
    let services = compose["services"].as_object().expect("services");
    assert!(services["postgres"]["image"]
        .as_str()
        .unwrap()
        .starts_with("postgres:"));
    for name in ["vocalis-1", "vocalis-2"] {
        let replica = &services[name];
        let url = replica["environment"]["VOCALIS_DATABASE_URL"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no database URL"));
        assert!(
            url.starts_with("postgres://") && url.contains("@postgres:5432/"),
            "{url}"
        );
        assert_eq!(
            replica["depends_on"]["postgres"]["condition"],
            "service_healthy"
        );
        assert!(seconds(&replica["stop_grace_period"]) > drain_s, "{name}");
        let volumes = replica["volumes"].as_array().unwrap();
        assert!(volumes
            .iter()
            .any(|v| v.as_str().unwrap().ends_with(":/models:ro")));
    }
    let lb = &services["lb"];
    assert!(lb["volumes"][0].as_str().unwrap().contains("haproxy.cfg"));

    let haproxy = read("deploy/haproxy.cfg");
    for needed in [
        "option httpchk GET /readyz",
        "cookie VOCALIS_REPLICA insert",
        "timeout tunnel",
        "server vocalis-1 vocalis-1:8080",
        "server vocalis-2 vocalis-2:8080",
    ] {
        assert!(haproxy.contains(needed), "haproxy.cfg lacks `{needed}`");
    }
}

#[test]
fn the_kubernetes_manifests_probe_the_real_endpoints_and_outlast_the_drain() {
    let configmap = parse_yaml(&read("deploy/k8s/configmap.yaml"));
    let toml = configmap["data"]["vocalis.toml"]
        .as_str()
        .expect("vocalis.toml");
    let config = ServerConfig::from_toml_str(toml).unwrap();
    config.validate().unwrap();
    assert_eq!(
        config,
        ServerConfig::from_toml_str(&read("deploy/vocalis.toml")).unwrap(),
        "the ConfigMap and deploy/vocalis.toml differ"
    );

    let deployment = parse_yaml(&read("deploy/k8s/deployment.yaml"));
    assert_eq!(deployment["kind"], "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let probe = |name: &str| {
        container[name]["httpGet"]["path"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // `scale_out` proves both answer on real replicas (and /readyz turns 503
    // while the database is down).
    assert_eq!(probe("livenessProbe"), "/healthz");
    assert_eq!(probe("readinessProbe"), "/readyz");
    assert_eq!(probe("startupProbe"), "/healthz");
    let grace = pod["terminationGracePeriodSeconds"].as_i64().unwrap() as u64;
    let pre_stop: u64 = container["lifecycle"]["preStop"]["exec"]["command"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        grace > config.shutdown_grace_ms / 1000 + pre_stop,
        "grace {grace} s does not outlast the drain"
    );
    // BENCHMARKS.md's capacity was measured on 2 cores.
    assert_eq!(container["resources"]["requests"]["cpu"], "2");
    let env = container["env"].as_array().unwrap();
    assert!(env.iter().any(|e| e["name"] == "VOCALIS_DATABASE_URL"
        && e["valueFrom"]["secretKeyRef"]["name"] == "vocalis-db"));

    let service = parse_yaml(&read("deploy/k8s/service.yaml"));
    assert_eq!(service["kind"], "Service");
    assert_eq!(
        service["spec"]["selector"]["app"],
        deployment["spec"]["selector"]["matchLabels"]["app"]
    );
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
    for path in [
        "deploy/k8s/secret.example.yaml",
        "deploy/k8s/models-pvc.yaml",
    ] {
        assert!(parse_yaml(&read(path))["kind"].is_string(), "{path}");
    }
}
