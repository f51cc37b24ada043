//! `init_from_conf` as a service uses it: profiling from the `[profiler]` section, the
//! process-wide pipeline into the embedded store, nothing lost at the end of `main`. One test
//! function, because the process-wide notifier can be set only once per process.

use osprofiler::driver::GetReport;
use osprofiler::driver::{get_driver, DriverOptions};
use osprofiler::{profiler, ProfilerConfig, Trace};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_from_conf_sets_up_the_pipeline_and_loses_nothing() {
    // Disabled: nothing is set up.
    let off = osprofiler::init_from_conf(&ProfilerConfig::default(), None, None).await;
    assert!(!off.enabled());
    assert!(osprofiler::notifier::global().is_none());

    // A driver that cannot start: profiling stays off, the service goes on.
    let bad = ProfilerConfig {
        enabled: true,
        connection_string: Some("nosuch://user:secret@host/".into()),
        ..ProfilerConfig::default()
    };
    let err = osprofiler::try_init_from_conf(&bad, None, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("nosuch://user:***@host/"), "{err}");
    assert!(!err.contains("secret"));
    let off = osprofiler::init_from_conf(&bad, None, None).await;
    assert!(!off.enabled());
    assert!(osprofiler::notifier::global().is_none());

    // Enabled, from an INI file as OpenStack services write it.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nested").join("traces.sqlite");
    let ini = dir.path().join("service.conf");
    std::fs::write(
        &ini,
        format!(
            "[profiler]\nenabled = true\nhmac_keys = new-key, old-key\nconnection_string = sqlite://{}\n",
            db.display()
        ),
    )
    .unwrap();
    let conf = ProfilerConfig::from_file(&ini).unwrap();
    let profiling = osprofiler::init_from_conf(&conf, Some("nova"), Some("api")).await;
    assert!(profiling.enabled());
    assert_eq!(profiling.hmac_keys, ["new-key", "old-key"]);

    let base_id = std::thread::spawn(|| {
        let p = profiler::init("new-key", None, None);
        {
            let _wsgi = Trace::start("wsgi", None);
            let _db = Trace::start("db", None);
        }
        profiler::clean();
        p.base_id().to_string()
    })
    .join()
    .unwrap();
    // The guard flushes at the end of `main`.
    drop(profiling);

    let reader = get_driver(DriverOptions::new(format!("sqlite://{}", db.display())))
        .await
        .unwrap();
    let report = serde_json::to_value(reader.get_report(&base_id).await.unwrap()).unwrap();
    let wsgi = &report["children"][0];
    assert_eq!(wsgi["info"]["name"], "wsgi");
    assert_eq!(wsgi["info"]["project"], "nova");
    assert_eq!(wsgi["info"]["service"], "api");
    assert_eq!(wsgi["info"]["host"], osprofiler::hostname());
    assert_eq!(wsgi["children"][0]["info"]["name"], "db");
    assert_eq!(report["stats"]["db"]["count"], 1);
}
