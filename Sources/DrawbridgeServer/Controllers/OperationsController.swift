import DrawbridgeCore
import Logging
import Hummingbird
import Prometheus

/// Liveness, readiness and Prometheus metrics for the operator's monitoring.
struct OperationsController: Sendable {
    let readinessChecks: [ReadinessCheck]

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/healthz") { _, _ in Self.text("ok\n") }
        router.get("/readyz", use: ready)
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: MetricsBootstrap.registry.emitToString()))
            )
        }
    }

    /// 200 when every dependency answers within two seconds, else 503 naming what is down.
    @Sendable func ready(request: Request, context: AppRequestContext) async throws -> Response {
        var failures: [String] = []
        for check in readinessChecks {
            do {
                try await withTimeout(.seconds(2)) { try await check.check() }
            } catch {
                failures.append("\(check.name): \(PostgresErrorText.describe(error))")
            }
        }
        if failures.isEmpty { return Self.text("ready\n") }
        context.logger.warning("not ready", metadata: ["failures": "\(failures.joined(separator: "; "))"])
        return Self.text("not ready: \(failures.map { $0.split(separator: ":").first.map(String.init) ?? $0 }.joined(separator: ", "))\n", status: .serviceUnavailable)
    }

    static func text(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
