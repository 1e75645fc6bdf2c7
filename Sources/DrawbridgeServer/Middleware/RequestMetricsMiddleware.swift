import Hummingbird
import Metrics

/// Counts requests by route and status and times them, labelled by route pattern (not raw path) to keep cardinality bounded.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(request, context: context, status: response.status.code, since: start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            record(request, context: context, status: status, since: start)
            throw error
        }
    }

    private func record(_ request: Request, context: Context, status: Int, since start: ContinuousClock.Instant) {
        let route = context.endpointPath ?? "unmatched"
        let method = request.method.rawValue
        Counter(label: "drawbridge_http_requests_total", dimensions: [("route", route), ("method", method), ("status", String(status))]).increment()
        let elapsed = ContinuousClock.now - start
        let (seconds, attoseconds) = elapsed.components
        Metrics.Timer(label: "drawbridge_http_request_duration_seconds", dimensions: [("route", route), ("method", method)], preferredDisplayUnit: .seconds)
            .recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
