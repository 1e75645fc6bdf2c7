import Metrics
import Prometheus

/// The process's one Prometheus registry, installed as the swift-metrics backend on first use.
/// Touch it before creating anything that records metrics, or those would go to the no-op backend.
public enum MetricsBootstrap {
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()
}
