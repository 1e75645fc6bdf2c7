import HTTPTypes
import Hummingbird

/// Answers a method an API path does not have with 405 and an `Allow` header (RFC 9110 §15.5.6), where the
/// router alone would say 404 and a client could not tell a wrong method from a wrong URL. Any method, also
/// ones the router has never heard of (QUERY, say). HEAD is refused too where it is not listed: on a
/// one-time link it must not count as a visit.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    struct Rule: Sendable {
        /// Path segments; one starting with ":" matches any single segment.
        var segments: [Substring]
        var allowed: [HTTPRequest.Method]

        init(_ path: String, allowed: [HTTPRequest.Method]) {
            self.segments = path.split(separator: "/")
            self.allowed = allowed
        }

        func matches(_ path: [Substring]) -> Bool {
            path.count == segments.count && zip(segments, path).allSatisfy { $0.hasPrefix(":") ? !$1.isEmpty : $0 == $1 }
        }
    }

    let rules: [Rule]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path.split(separator: "/")
        if let rule = rules.first(where: { $0.matches(path) }), !rule.allowed.contains(request.method) {
            return Response(status: .methodNotAllowed, headers: [.allow: rule.allowed.map(\.rawValue).joined(separator: ", "), .cacheControl: "no-store"])
        }
        return try await next(request, context)
    }
}
