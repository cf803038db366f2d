//! Unit tests of the configuration: defaults, TOML parsing, validation.

use super::*;

#[test]
fn defaults_listen_on_loopback_8080_and_validate() {
    let config = ServerConfig::default();
    assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    config.validate().expect("defaults are valid");
}

#[test]
fn toml_overrides_only_what_it_names() {
    let config = ServerConfig::from_toml_str("listen = \"0.0.0.0:9000\"\n").unwrap();
    assert_eq!(config.listen.port(), 9000);
    assert_eq!(
        config.max_body_bytes,
        ServerConfig::default().max_body_bytes
    );
}

#[test]
fn unknown_toml_keys_are_rejected() {
    let err = ServerConfig::from_toml_str("lisen = \"0.0.0.0:9000\"\n").unwrap_err();
    assert!(err.to_string().contains("lisen"), "{err}");
}

#[test]
fn email_section_parses_and_is_validated() {
    let config = ServerConfig::from_toml_str(
        "[email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = 2525\nsecurity = \"none\"\nfrom = \"Basics <noreply@example.com>\"\n",
    )
    .unwrap();
    config.validate().unwrap();
    assert_eq!(config.email.port(), 2525);
    let missing_from = ServerConfig::from_toml_str("[email]\nsmtp_host = \"127.0.0.1\"\n").unwrap();
    let err = missing_from.validate().unwrap_err();
    assert!(err.to_string().contains("email.from"), "{err}");
    let bad_limit = ServerConfig {
        max_audio_seconds: 0.0,
        ..ServerConfig::default()
    };
    assert!(bad_limit.validate().is_err());
}

#[test]
fn ping_interval_defaults_to_20_s_and_is_checked() {
    assert_eq!(ServerConfig::default().ping_interval_ms, 20_000);
    let config = ServerConfig::from_toml_str("ping_interval_ms = 250\n").unwrap();
    assert_eq!(config.ping_interval_ms, 250);
    config.validate().unwrap();
    let too_short = ServerConfig {
        ping_interval_ms: 0,
        ..ServerConfig::default()
    };
    let err = too_short.validate().unwrap_err();
    assert!(err.to_string().contains("ping_interval_ms"), "{err}");
}

#[test]
fn tiny_body_limit_is_rejected() {
    let config = ServerConfig {
        max_body_bytes: 10,
        ..ServerConfig::default()
    };
    let err = config.validate().unwrap_err();
    assert!(err.to_string().contains("max_body_bytes"), "{err}");
}

#[test]
fn zero_and_huge_durations_and_sizes_are_rejected_naming_the_field() {
    let cases: [(&str, ServerConfig); 17] = [
        (
            "health_interval_ms",
            ServerConfig {
                health_interval_ms: 0,
                ..ServerConfig::default()
            },
        ),
        (
            "idle_timeout_ms",
            ServerConfig {
                idle_timeout_ms: u64::MAX,
                ..ServerConfig::default()
            },
        ),
        (
            "ping_interval_ms",
            ServerConfig {
                ping_interval_ms: u64::MAX,
                ..ServerConfig::default()
            },
        ),
        (
            "health_interval_ms",
            ServerConfig {
                health_interval_ms: u64::MAX,
                ..ServerConfig::default()
            },
        ),
        (
            "shutdown_grace_ms",
            ServerConfig {
                shutdown_grace_ms: u64::MAX,
                ..ServerConfig::default()
            },
        ),
        (
            "header_read_timeout_ms",
            ServerConfig {
                header_read_timeout_ms: 0,
                ..ServerConfig::default()
            },
        ),
        (
            "http_idle_timeout_ms",
            ServerConfig {
                http_idle_timeout_ms: u64::MAX,
                ..ServerConfig::default()
            },
        ),
        (
            "max_connections",
            ServerConfig {
                max_connections: 0,
                ..ServerConfig::default()
            },
        ),
        (
            "max_sessions",
            ServerConfig {
                max_sessions: 0,
                ..ServerConfig::default()
            },
        ),
        (
            "tts_write_timeout_ms",
            ServerConfig {
                tts_write_timeout_ms: 0,
                ..ServerConfig::default()
            },
        ),
        (
            "max_frame_bytes",
            ServerConfig {
                max_frame_bytes: usize::MAX,
                ..ServerConfig::default()
            },
        ),
        (
            "max_speech_chars",
            ServerConfig {
                max_speech_chars: usize::MAX,
                ..ServerConfig::default()
            },
        ),
        (
            "max_audio_seconds",
            ServerConfig {
                max_audio_seconds: f64::INFINITY,
                ..ServerConfig::default()
            },
        ),
        (
            "max_audio_seconds",
            ServerConfig {
                max_audio_seconds: 1e12,
                ..ServerConfig::default()
            },
        ),
        (
            "live_max_speed",
            ServerConfig {
                live_max_speed: f64::NAN,
                ..ServerConfig::default()
            },
        ),
        (
            "live_max_speed",
            ServerConfig {
                live_max_speed: 0.5,
                ..ServerConfig::default()
            },
        ),
        (
            "live_burst_seconds",
            ServerConfig {
                live_burst_seconds: -1.0,
                ..ServerConfig::default()
            },
        ),
    ];
    for (field, config) in cases {
        let err = config.validate().unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(&format!("`{field}`")),
            "{field}: {message}"
        );
        assert!(
            matches!(err, ConfigError::Invalid { field: f, .. } if f == field),
            "{message}"
        );
    }
}

#[test]
fn connection_limits_have_defaults_and_parse_from_toml() {
    let defaults = ServerConfig::default();
    assert_eq!(defaults.header_read_timeout_ms, 10_000);
    assert_eq!(defaults.http_idle_timeout_ms, 60_000);
    assert_eq!(defaults.max_connections, 4_096);
    assert_eq!(defaults.max_sessions, 64);
    assert_eq!(defaults.tts_write_timeout_ms, 30_000);
    assert!(!defaults.metrics_auth);
    let config = ServerConfig::from_toml_str(
        "header_read_timeout_ms = 500\nmax_sessions = 2\nmax_connections = 3\nmetrics_auth = true\n",
    )
    .unwrap();
    config.validate().unwrap();
    assert_eq!(config.header_read_timeout_ms, 500);
    assert_eq!(config.max_sessions, 2);
    assert_eq!(config.max_connections, 3);
    assert!(config.metrics_auth);
}

#[test]
fn live_final_beam_defaults_to_5_parses_and_is_checked() {
    assert_eq!(ServerConfig::default().live_final_beam, 5);
    let greedy = ServerConfig::from_toml_str("live_final_beam = 1\n").unwrap();
    assert_eq!(greedy.engine_settings().pool.live_final_beam, 1);
    greedy.validate().expect("1 (greedy) is valid");
    for bad in [0, 17] {
        let err = ServerConfig {
            live_final_beam: bad,
            ..ServerConfig::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("live_final_beam"), "{err}");
    }
}
