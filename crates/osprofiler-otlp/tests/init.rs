//! `init_from_conf` with `otlp://`, as a service starts: a bad connection string leaves the
//! service running with profiling off; a good one exports the service's points with
//! `service.name` from `[profiler_otlp] service_name_prefix`, project and service.
//! (Its own test binary: the process-wide notifier can be set once.)

mod support;

use std::time::Duration;

use osprofiler::{Profiler, ProfilerConfig, Trace};
use support::{Mode, Receiver};

#[tokio::test]
async fn a_service_starts_with_the_otlp_driver() {
    osprofiler_otlp::register();
    let mut conf = ProfilerConfig {
        enabled: true,
        connection_string: Some("otlp://admin:pw@:4318".into()),
        otlp_service_name_prefix: Some("cloud".into()),
        ..ProfilerConfig::default()
    };
    let off = osprofiler::init_from_conf(&conf, Some("glance"), Some("api")).await;
    assert!(
        !off.enabled(),
        "a bad connection string turns profiling off"
    );
    let err = osprofiler::try_init_from_conf(&conf, Some("glance"), Some("api"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("otlp://admin:***@:4318"), "{err}");

    let receiver = Receiver::start(Mode::Accept);
    conf.connection_string = Some(receiver.connection_string());
    let profiling = osprofiler::init_from_conf(&conf, Some("glance"), Some("api")).await;
    assert!(profiling.enabled());
    osprofiler::profiler::with_profiler(Some(Profiler::new("SECRET_KEY", None, None)), || {
        let _point = Trace::start("wsgi", None);
    });
    let notifier = profiling.notifier.as_ref().unwrap();
    assert!(notifier.flush(Duration::from_secs(10)));
    let spans = receiver.wait_for_spans(1, Duration::from_secs(5));
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].service_name, "cloud-glance-api");
    assert_eq!(spans[0].span.name, "wsgi");
}
