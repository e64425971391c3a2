use super::*;

fn shipped_file() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/tickd.toml");
    std::fs::read_to_string(&path).expect("config/tickd.toml is in the repository")
}

fn err(text: &str) -> String {
    Config::from_toml_str(text).unwrap_err().to_string()
}

#[test]
fn the_shipped_file_equals_the_built_in_defaults() {
    let text = shipped_file();
    let from_file: RawConfig = toml::from_str(&text).unwrap();
    assert_eq!(from_file, RawConfig::default());
    // Every key is written out in the file (serde's defaults would hide a missing one).
    let file_value: toml::Value = toml::from_str(&text).unwrap();
    let default_value = toml::Value::try_from(RawConfig::default()).unwrap();
    assert_eq!(file_value, default_value);
    assert_eq!(Config::from_toml_str(&text).unwrap(), Config::default());
}

#[test]
fn every_key_has_a_comment_above_it() {
    let text = shipped_file();
    let lines: Vec<&str> = text.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        let is_key = line.contains(" = ") && !line.starts_with('#');
        if is_key {
            assert!(
                n > 0 && lines[n - 1].starts_with('#'),
                "line {}: {line:?} has no comment above it",
                n + 1
            );
        }
    }
}

#[test]
fn print_config_round_trips() {
    let c = Config::load(
        None,
        &[
            "workers.mode=\"threads\"".into(),
            "workers.threads=3".into(),
            "workers.cores=[]".into(),
        ],
    )
    .unwrap();
    let again = Config::from_toml_str(&c.to_toml()).unwrap();
    assert_eq!(again, c);
    assert_eq!(again.workers.threads, 3);
}

#[test]
fn defaults_start_on_loopback_under_the_working_directory() {
    let c = Config::default();
    assert!(c.data_dir.is_relative());
    for a in [
        c.ingest.udp_binary,
        c.ingest.tcp_binary,
        c.ingest.ilp_tcp,
        c.metrics_listen,
    ] {
        assert!(a.unwrap().ip().is_loopback());
    }
    assert_eq!(c.aggregation.timeframes.len(), 6);
    assert_eq!(c.report.interval, Some(Duration::from_secs(10)));
    assert_eq!(c.report.p99_alert, Duration::from_micros(100));
}

#[test]
fn unknown_keys_name_their_path() {
    assert!(err("bogus = 1").starts_with("config key `bogus`: unknown field `bogus`"));
    let e = err("[ingest]\nudp = \"x\"");
    assert!(
        e.starts_with("config key `ingest.udp`: unknown field `udp`"),
        "{e}"
    );
    assert!(e.contains("udp_binary"), "lists what is allowed: {e}");
    assert!(e.ends_with("(line 2)"), "{e}");
    let e = err("[nope]\n");
    assert!(e.starts_with("config key `nope`: unknown field"), "{e}");
}

#[test]
fn wrong_types_name_their_path() {
    let e = err("[workers]\nthreads = \"two\"");
    assert!(
        e.starts_with("config key `workers.threads`: invalid type"),
        "{e}"
    );
    let e = err("[aggregation]\ntimeframes = [\"1s\", 5]");
    assert!(
        e.starts_with("config key `aggregation.timeframes[1]`"),
        "{e}"
    );
}

#[test]
fn bad_values_say_what_is_allowed() {
    let cases = [
        (
            "[workers]\nthreads = 65",
            "config key `workers.threads` = 65: allowed: 1 to 64 threads",
        ),
        (
            "[workers]\nthreads = 2\ncores = [1]",
            "config key `workers.cores` = [1]: allowed: an empty list (not pinned) or exactly 2 core ids, one per thread",
        ),
        (
            "[workers]\nqueue_capacity = 1000",
            "config key `workers.queue_capacity` = 1000: allowed: a power of two from 64 to 16777216",
        ),
        (
            "[store]\nhot_compression = \"zstd\"",
            "config key `store.hot_compression` = \"zstd\": allowed: \"none\" or \"lz4\"",
        ),
        (
            "[workers]\nidle = \"sleep\"",
            "config key `workers.idle` = \"sleep\": allowed: \"spin\" or \"park\"",
        ),
        (
            "[workers]\nmode = \"fast\"",
            "config key `workers.mode` = \"fast\": allowed: \"threads\" or \"inline\"",
        ),
        (
            "[workers]\nmode = \"inline\"\n[ingest]\nthreads = 2\ncores = []",
            "config key `ingest.threads` = 2: allowed: 1 with workers.mode = \"inline\" (the one ingest thread aggregates every tick; set workers.mode = \"threads\" for more threads)",
        ),
        (
            "[workers]\nmode = \"inline\"\nthreads = 2\ncores = []",
            "config key `workers.threads` = 2: allowed: 1 with workers.mode = \"inline\" (the one ingest thread aggregates every tick; set workers.mode = \"threads\" for more threads)",
        ),
        (
            "[workers]\nnap = \"0s\"",
            "config key `workers.nap` = \"0s\": allowed: 1ns to 10ms",
        ),
        (
            "[workers]\nnap = \"1s\"",
            "config key `workers.nap` = \"1s\": allowed: at most 10ms",
        ),
        (
            "[workers]\npark_after = \"2s\"",
            "config key `workers.park_after` = \"2s\": allowed: at most 1s",
        ),
        (
            "[aggregation]\ntimeframes = [\"1s\", \"2d\"]",
            "config key `aggregation.timeframes[1]` = \"2d\": allowed: timeframe \"2d\" is longer than one day",
        ),
        (
            "[aggregation]\ntimeframes = [\"1s\", \"1s\"]",
            "config key `aggregation.timeframes[1]` = \"1s\": allowed: each timeframe once",
        ),
        (
            "[aggregation]\ntimeframes = []",
            "config key `aggregation.timeframes` = []: allowed: 1 to 16 timeframes",
        ),
        (
            "[aggregation]\nquote_price = \"last\"",
            "config key `aggregation.quote_price` = \"last\": allowed: \"mid\", \"bid\" or \"ask\"",
        ),
        (
            "[metrics]\nlisten = \"0.0.0.0:9187\"",
            "config key `metrics.listen` = \"0.0.0.0:9187\": allowed: a loopback address such as \"127.0.0.1:9187\" (put a proxy in front to expose it)",
        ),
        (
            "[store]\nfsync = \"sometimes\"",
            "config key `store.fsync` = \"sometimes\": allowed: \"never\", \"always\" or an interval such as \"1s\"",
        ),
        (
            "[report]\ninterval = \"10\"",
            "config key `report.interval` = \"10\": allowed: a duration such as \"250us\", \"100ms\", \"10s\" (\"10\" has no unit (ns, us, ms, s, m, h))",
        ),
        (
            "[ingest]\nmin_event_time = \"yesterday\"",
            "config key `ingest.min_event_time` = \"yesterday\": allowed: a UTC date \"1990-01-01\" or date-time \"1990-01-01T00:00:00Z\"",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(err(text), want, "for {text:?}");
    }
    let e = err("[ingest]\nudp_binary = \"localhost\"");
    assert!(
        e.starts_with(
            "config key `ingest.udp_binary` = \"localhost\": allowed: an IP address and port"
        ),
        "{e}"
    );
    let e = err("[ingest]\nudp_binary=\"\"\ntcp_binary=\"\"\nilp_tcp=\"\"\nilp_udp=\"\"");
    assert!(
        e.starts_with("config key `ingest` = (every listener empty)"),
        "{e}"
    );
    let e = err("this is not toml");
    assert!(e.starts_with("config: "), "{e}");
}

#[test]
fn overrides_apply_and_are_validated() {
    let c = Config::load(
        None,
        &[
            "aggregation.timeframes=[\"1m\",\"1s\"]".into(),
            "ring.enabled=false".into(),
            "daemon.data_dir=/tmp/x y".into(),
        ],
    )
    .unwrap();
    assert_eq!(c.aggregation.timeframes, vec![Timeframe::S1, Timeframe::M1]);
    assert!(!c.ring.enabled);
    assert_eq!(c.data_dir, PathBuf::from("/tmp/x y"));
    let e = Config::load(None, &["workers.threads=0".into()]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "config key `workers.threads` = 0: allowed: 1 to 64 threads"
    );
    let e = Config::load(None, &["workers.thread=1".into()]).unwrap_err();
    assert!(
        e.to_string().starts_with("config key `workers.thread`"),
        "{e}"
    );
    assert!(matches!(
        Config::load(None, &["novalue".into()]),
        Err(ConfigError::Override(_))
    ));
    assert!(matches!(
        Config::load(None, &["a..b=1".into()]),
        Err(ConfigError::Override(_))
    ));
}

#[test]
fn a_missing_file_is_a_read_error() {
    let e = Config::load(Some(Path::new("no/such/file.toml")), &[]).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(
        e.to_string()
            .starts_with("cannot read config file no/such/file.toml")
    );
}
