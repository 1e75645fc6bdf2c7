import DrawbridgeCore
import Logging
import Hummingbird

/// Sets `context.clientAddress` to the real client, believing `X-Forwarded-For` only from trusted proxies.
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let resolver: ClientAddressResolver

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let forwarded = request.headers[values: .xForwardedFor]
        context.clientAddress = resolver.clientAddress(peer: context.remoteAddress?.ipAddress, forwardedFor: forwarded)
        context.logger[metadataKey: "client"] = context.clientAddress.map { .string($0) }
        return try await next(request, context)
    }
}
