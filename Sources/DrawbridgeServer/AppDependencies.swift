import DrawbridgeCore
import Logging

/// What the HTTP layer needs, as protocols, so tests can assemble it from real parts of their choosing.
public struct AppDependencies: Sendable {
    public var configuration: DrawbridgeConfiguration
    public var sessions: any SessionStore
    public var authenticator: PasswordAuthenticator
    public var directory: any UserDirectory
    public var oauth: OAuthService
    /// Chat account provisioning; nil when no connector is configured.
    public var provisioning: ProvisioningService?
    /// Named checks behind `/readyz` (both databases, by default).
    public var readinessChecks: [ReadinessCheck]
    /// Platform-first sign-in from the platform's session cookie; nil when `platform_session` is not configured.
    public var platformSession: PlatformSessionBridge?
    /// The platform backend's bearer tokens, for the hand-off API.
    public var serviceTokens: any ServiceTokenStore
    /// One-time sign-in links made by the hand-off API.
    public var handoffs: any HandoffStore
    /// Forward auth's session caches, shared by the routes and the NOTIFY listener that empties them.
    public var sessionCaches: SessionCaches

    public init(
        configuration: DrawbridgeConfiguration,
        sessions: any SessionStore,
        authenticator: PasswordAuthenticator,
        directory: any UserDirectory,
        oauth: OAuthService,
        provisioning: ProvisioningService? = nil,
        readinessChecks: [ReadinessCheck],
        platformSession: PlatformSessionBridge? = nil,
        serviceTokens: any ServiceTokenStore,
        handoffs: any HandoffStore,
        sessionCaches: SessionCaches? = nil
    ) {
        self.sessionCaches = sessionCaches ?? SessionCaches(lifetime: configuration.cache.lifetime)
        self.serviceTokens = serviceTokens
        self.handoffs = handoffs
        self.platformSession = platformSession
        self.configuration = configuration
        self.sessions = sessions
        self.authenticator = authenticator
        self.directory = directory
        self.oauth = oauth
        self.provisioning = provisioning
        self.readinessChecks = readinessChecks
    }
}

public struct ReadinessCheck: Sendable {
    public var name: String
    public var check: @Sendable () async throws -> Void

    public init(name: String, check: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.check = check
    }
}

extension AppDependencies {
    /// Single logout over these parts: sessions, the tokens issued in them, back-channel notices, chat sessions.
    public var singleLogout: SingleLogout {
        let logger = Logger(label: "drawbridge.logout")
        return SingleLogout(
            sessions: sessions, grants: oauth.grants, clients: oauth.clients,
            backchannel: BackchannelLogoutSender(issuer: oauth.issuer, keys: oauth.keys, logger: logger),
            provisioning: provisioning.map { ($0.store, $0.connectorNames, $0.settings.maxAttempts) }, logger: logger,
            onTokensRevoked: { [oauth] in oauth.forgetCachedTokens() },
            onSessionEnded: { [sessionCaches] in sessionCaches.invalidate(.session(digest: $0)) }
        )
    }
}
