//! The deployment files in `deploy/` parse and agree with the server: the
//! compose file (PostgreSQL, two replicas on `VOCALIS_DATABASE_URL`, HAProxy
//! with WebSocket tunnels, sticky cookies and `/readyz` checks), the shared
//! `vocalis.toml` (a valid server config), and the Kubernetes manifests
//! (probes on `/healthz` and `/readyz`, a termination grace longer than the
//! session drain, CPU requests from the capacity benchmark). The YAML is
//! read by a small block-style parser below (no YAML crate in the tree).

use serde_json::{Map, Value};
use vocalis_server::ServerConfig;

use crate::support::workspace_root;

struct Line {
    indent: usize,
    text: String,
    /// The text of a `key: |` block scalar.
    block: Option<String>,
}

/// Parses the block-style YAML subset the deploy files use: maps, lists,
/// `|` block scalars, plain, quoted and JSON-style flow scalars.
fn parse_yaml(text: &str) -> Value {
    let raw: Vec<&str> = text.lines().collect();
    let mut lines = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let line = raw[i];
        let trimmed = line.trim_start();
        i += 1;
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let mut block = None;
        if trimmed.ends_with(": |") {
            let mut body = Vec::new();
            while i < raw.len()
                && (raw[i].trim().is_empty() || raw[i].len() - raw[i].trim_start().len() > indent)
            {
                body.push(raw[i]);
                i += 1;
            }
            let cut = body
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            let dedented: Vec<&str> = body.iter().map(|l| l.get(cut..).unwrap_or("")).collect();
            block = Some(dedented.join("\n") + "\n");
        }
        lines.push(Line {
            indent,
            text: trimmed.trim_end().to_owned(),
            block,
        });
    }
    let mut pos = 0;
    let indent = lines.first().map_or(0, |l| l.indent);
    let value = parse_block(&mut lines, &mut pos, indent);
    assert_eq!(pos, lines.len(), "unparsed YAML from: {}", lines[pos].text);
    value
}

fn is_item(line: &Line) -> bool {
    line.text == "-" || line.text.starts_with("- ")
}

fn parse_block(lines: &mut [Line], pos: &mut usize, indent: usize) -> Value {
    if *pos < lines.len() && is_item(&lines[*pos]) {
        parse_list(lines, pos, indent)
    } else {
        parse_map(lines, pos, indent)
    }
}

/// `key: rest` of a map line; `None` for a scalar.
fn split_key(text: &str) -> Option<(String, String)> {
    if text.starts_with(['"', '\'', '[', '{']) {
        return None;
    }
    let (key, rest) = match text.find(": ") {
        Some(at) => (&text[..at], text[at + 2..].trim()),
        None => (text.strip_suffix(':')?, ""),
    };
    Some((key.trim().to_owned(), rest.to_owned()))
}

fn scalar(text: &str) -> Value {
    if text.starts_with('[') || text.starts_with('{') {
        return serde_json::from_str(text).unwrap_or_else(|e| panic!("flow value {text}: {e}"));
    }
    let unquoted = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .or_else(|| text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')));
    match unquoted {
        Some(text) => Value::String(text.to_owned()),
        None => match text.parse::<i64>() {
            Ok(number) => Value::from(number),
            Err(_) => Value::String(text.to_owned()),
        },
    }
}

fn parse_map(lines: &mut [Line], pos: &mut usize, indent: usize) -> Value {
    let mut map = Map::new();
    while *pos < lines.len() && lines[*pos].indent == indent && !is_item(&lines[*pos]) {
        let (key, rest) = split_key(&lines[*pos].text)
            .unwrap_or_else(|| panic!("expected `key:` in: {}", lines[*pos].text));
        let block = lines[*pos].block.take();
        *pos += 1;
        let value = if let Some(block) = block {
            Value::String(block)
        } else if !rest.is_empty() {
            scalar(&rest)
        } else if *pos < lines.len()
            && (lines[*pos].indent > indent
                || (lines[*pos].indent == indent && is_item(&lines[*pos])))
        {
            let child = lines[*pos].indent;
            parse_block(lines, pos, child)
        } else {
            Value::Null
        };
        map.insert(key, value);
    }
    Value::Object(map)
}

fn parse_list(lines: &mut [Line], pos: &mut usize, indent: usize) -> Value {
    let mut items = Vec::new();
    while *pos < lines.len() && lines[*pos].indent == indent && is_item(&lines[*pos]) {
        let item = lines[*pos].text[1..].trim_start().to_owned();
        if split_key(&item).is_some() {
            // `- key: value` opens a map whose keys sit two columns in.
            lines[*pos].indent = indent + 2;
            lines[*pos].text = item;
            items.push(parse_map(lines, pos, indent + 2));
        } else {
            items.push(scalar(&item));
            *pos += 1;
        }
    }
    Value::Array(items)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(workspace_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn seconds(duration: &Value) -> u64 {
    let text = duration.as_str().expect("a duration like 75s");
    text.strip_suffix('s').unwrap().parse().unwrap()
}

#[test]
fn the_yaml_reader_reads_what_the_deploy_files_use() {
    let value = parse_yaml(
        "a:\n  b: 1\n  c: \"x: y\"\n  d:\n    - one\n    - k: v\n      w: 2\n  e: [\"p\", \"q\"]\n  f: |\n    line 1\n    line 2\n  g: {}\n",
    );
    assert_eq!(
        value,
        serde_json::json!({"a": {"b": 1, "c": "x: y", "d": ["one", {"k": "v", "w": 2}],
            "e": ["p", "q"], "f": "line 1\nline 2\n", "g": {}}})
    );
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
