//! [`TracePointLayer`]: the `tracing-subscriber` layer that records spans as trace points.

use std::borrow::Cow;

use osprofiler_core::{profiler, Info, PointName, Profiler};
use serde_json::Value;
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::entered;
use crate::fields::{ErrorVisitor, FieldVisitor};
use crate::point::{self, SpanPoint};

/// Chooses a point's name from a span's metadata.
pub type PointNamer = fn(&'static Metadata<'static>) -> &'static str;

/// A [`Layer`] that turns the spans of `tracing` into trace points of the current OSprofiler
/// profiler (see the [crate docs](crate) for the mapping).
///
/// Named in the scheme of the other integrations (tower-http's `XxxLayer`): they pass a trace
/// between services (`osprofiler-tower`'s `ServerTraceLayer`, `osprofiler-tonic`'s
/// `ServerTraceLayer` and `ClientTraceLayer`, `osprofiler-reqwest`'s `ClientTrace`), this one
/// records the trace points of the spans inside a service.
///
/// Install it over a [`Registry`](tracing_subscriber::Registry):
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry().with(osprofiler_tracing::layer());
/// # let _ = subscriber;
/// ```
#[derive(Debug, Clone)]
pub struct TracePointLayer {
    point_name: PointNamer,
    error_events: bool,
}

/// The old name of [`TracePointLayer`].
#[deprecated(since = "0.1.0", note = "renamed `TracePointLayer`")]
pub type OsprofilerLayer = TracePointLayer;

impl Default for TracePointLayer {
    fn default() -> Self {
        TracePointLayer {
            point_name: span_name,
            error_events: true,
        }
    }
}

/// The default [`PointNamer`]: the span's name (a function's name for `#[instrument]`).
fn span_name(meta: &'static Metadata<'static>) -> &'static str {
    meta.name()
}

/// A layer with the default settings: points named after their spans, error events mark
/// their span's stop.
pub fn layer() -> TracePointLayer {
    TracePointLayer::default()
}

impl TracePointLayer {
    /// Same as [`layer()`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Names points with `namer` instead of the span's name, e.g. `|m| m.target()` for
    /// one point kind per module. A span's `osprofiler.name` field still wins.
    pub fn with_point_name(mut self, namer: PointNamer) -> Self {
        self.point_name = namer;
        self
    }

    /// Whether an `ERROR` event inside a span marks the stop of the span's point with
    /// `etype` and `message`, as Python records an exception (default: true).
    pub fn with_error_events(mut self, enabled: bool) -> Self {
        self.error_events = enabled;
        self
    }

    /// The point for a new span, when there is a profiler to record it in.
    fn start_point(&self, attrs: &Attributes<'_>, base: Profiler) -> SpanPoint {
        let meta = attrs.metadata();
        let mut info = Info::new();
        let mut visitor = FieldVisitor::new(&mut info);
        attrs.record(&mut visitor);
        let name = match visitor.into_name() {
            Some(name) => point_name(Cow::Owned(name)),
            None => point_name(Cow::Borrowed((self.point_name)(meta))),
        };
        let mut function = Info::new();
        function.insert(
            "name".to_owned(),
            Value::String(format!("{}::{}", meta.target(), meta.name())),
        );
        info.insert("function".to_owned(), Value::Object(function));
        SpanPoint::start(base, name, info)
    }
}

/// A point name from a span's: a `-` would cut the name short in reports (Python takes the
/// name up to the first `-` of `<name>-start`), so it becomes `_`.
fn point_name(name: Cow<'static, str>) -> PointName {
    if name.contains('-') {
        return PointName::from(name.replace('-', "_"));
    }
    match name {
        Cow::Borrowed(s) => PointName::from(s),
        Cow::Owned(s) => PointName::from(s),
    }
}

impl<S> Layer<S> for TracePointLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        // The unprofiled fast path: no profiler here and no profiled span anywhere.
        if !profiler::is_active() && !point::any_live() {
            return;
        }
        // An explicit parent that has a point is where this one nests; otherwise the
        // profiler current here (which is a profiled parent span's while it is entered).
        let from_parent = match attrs.parent() {
            Some(parent) if point::any_live() => ctx
                .span(parent)
                .and_then(|p| p.extensions().get::<SpanPoint>().map(SpanPoint::fork)),
            _ => None,
        };
        let Some(base) = from_parent.or_else(profiler::get) else {
            return;
        };
        let Some(span) = ctx.span(id) else {
            return;
        };
        // A second `TracePointLayer` on the same registry: the first one records the span.
        if span.extensions().get::<SpanPoint>().is_some() {
            return;
        }
        let point = self.start_point(attrs, base);
        span.extensions_mut().insert(point);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if !point::any_live() {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut ext = span.extensions_mut();
        if let Some(point) = ext.get_mut::<SpanPoint>() {
            // The start is already sent: later values go with the stop.
            let mut visitor = FieldVisitor::new(point.stop_info_mut());
            values.record(&mut visitor);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if !point::any_live() {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let inside = span
            .extensions_mut()
            .get_mut::<SpanPoint>()
            .map(SpanPoint::enter);
        if let Some(inside) = inside {
            entered::push(id, inside);
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if !point::any_live() {
            return;
        }
        let Some(inside) = entered::pop(id) else {
            return;
        };
        let Some(span) = ctx.span(id) else {
            return;
        };
        let rejected = match span.extensions_mut().get_mut::<SpanPoint>() {
            Some(point) => point.exited(inside),
            None => Some(inside),
        };
        // Dropped with the span's extensions unlocked: a profiler may hold the last handle
        // of a notifier, whose shutdown may emit events.
        drop(rejected);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if !point::any_live() {
            return;
        }
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let point = span.extensions_mut().remove::<SpanPoint>();
        if let Some(point) = point {
            point.stop();
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !self.error_events || *event.metadata().level() != Level::ERROR || !point::any_live() {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        // The nearest span that is a point: spans without one are not in the trace.
        for span in scope {
            let mut ext = span.extensions_mut();
            if let Some(point) = ext.get_mut::<SpanPoint>() {
                let mut visitor = ErrorVisitor::default();
                event.record(&mut visitor);
                let message = visitor.error.or(visitor.message).unwrap_or_default();
                let etype = visitor.etype.unwrap_or_else(|| "error".to_owned());
                point.fail(etype, message);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashes_leave_point_names() {
        assert_eq!(point_name(Cow::Borrowed("my-span")).as_str(), "my_span");
        assert_eq!(point_name(Cow::Borrowed("db")).as_str(), "db");
        assert_eq!(point_name(Cow::Owned("a-b-c".into())).as_str(), "a_b_c");
    }

    #[test]
    #[allow(deprecated)]
    fn the_old_name_still_builds_the_layer() {
        let old: OsprofilerLayer = OsprofilerLayer::new();
        assert!(old.error_events);
    }
}
