import Hummingbird
import NIOCore

/// Per-request state: the resolved client address (behind trusted proxies) on top of Hummingbird's core context.
public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The real client, set by `ClientAddressMiddleware`; used in logs, sessions and rate limits.
    public var clientAddress: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.clientAddress = source.channel.remoteAddress?.ipAddress
    }

    /// Forms here are small; anything bigger is refused before it is read.
    public var maxUploadSize: Int { 64 * 1024 }
}
