import Foundation

/// Everything `drawbridge serve` needs, read once at start-up and validated as a whole.
///
/// Key names mirror the YAML file (`session.cookie_domain`), which operators and the deploy files rely on.
public struct DrawbridgeConfiguration: Sendable {
    public var http: HTTPSettings
    public var publicURL: PublicURL
    public var trustedProxies: [IPNetwork]
    public var database: DatabaseSettings
    public var directory: DirectorySettings
    public var session: SessionSettings
    public var hashing: HashingSettings
    /// Failed sign-ins allowed per user name and per client address before attempts are refused for a while.
    public var loginThrottle: SignInThrottle.Settings
    public var oauth: OAuthSettings
    public var keys: KeySettings
    public var provisioning: ProvisioningConfiguration
    public var log: LogSettings
    /// Platform-first sign-in from the platform's own session cookie; nil when not configured.
    public var platformSession: PlatformSessionSettings?
    /// Each replica's caches of sessions, tokens and clients, and the listener that keeps them current.
    public var cache: CacheSettings

    public init(
        http: HTTPSettings,
        publicURL: PublicURL,
        trustedProxies: [IPNetwork],
        database: DatabaseSettings,
        directory: DirectorySettings,
        session: SessionSettings,
        hashing: HashingSettings = HashingSettings(),
        oauth: OAuthSettings = OAuthSettings(),
        keys: KeySettings = KeySettings(),
        provisioning: ProvisioningConfiguration = ProvisioningConfiguration(),
        log: LogSettings = LogSettings(),
        platformSession: PlatformSessionSettings? = nil,
        loginThrottle: SignInThrottle.Settings = SignInThrottle.Settings(),
        cache: CacheSettings = CacheSettings()
    ) {
        self.cache = cache
        self.loginThrottle = loginThrottle
        self.platformSession = platformSession
        self.http = http
        self.publicURL = publicURL
        self.trustedProxies = trustedProxies
        self.database = database
        self.directory = directory
        self.session = session
        self.hashing = hashing
        self.oauth = oauth
        self.keys = keys
        self.provisioning = provisioning
        self.log = log
    }
}

public struct HTTPSettings: Sendable {
    public var host: String
    public var port: Int

    public init(host: String = "127.0.0.1", port: Int = 8080) {
        self.host = host
        self.port = port
    }
}

/// Drawbridge's own state: sessions, migrations (and later clients, tokens, the provisioning outbox).
public struct DatabaseSettings: Sendable {
    public var url: PostgresURL
    public var schema: String
    public var maxConnections: Int

    public init(url: PostgresURL, schema: String = "drawbridge", maxConnections: Int = 20) {
        self.url = url
        self.schema = schema
        self.maxConnections = maxConnections
    }
}

public struct SessionSettings: Sendable {
    public var cookieName: String
    /// `nil` makes a host-only cookie (handy on `127.0.0.1`); a domain makes it shared by every subdomain.
    public var cookieDomain: String?
    public var idleTimeout: Duration
    public var absoluteTimeout: Duration

    public init(
        cookieName: String = "drawbridge_session",
        cookieDomain: String? = nil,
        idleTimeout: Duration = .seconds(8 * 3600),
        absoluteTimeout: Duration = .seconds(7 * 86400)
    ) {
        self.cookieName = cookieName
        self.cookieDomain = cookieDomain
        self.idleTimeout = idleTimeout
        self.absoluteTimeout = absoluteTimeout
    }
}

/// The bounded pool that runs password verification off the event loop.
public struct HashingSettings: Sendable {
    /// Threads that verify hashes; defaults to the number of cores.
    public var threads: Int
    /// Verifications allowed to wait for a thread before `POST /login` answers 503.
    public var queueLimit: Int

    public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount, queueLimit: Int = 64) {
        self.threads = max(1, threads)
        self.queueLimit = max(0, queueLimit)
    }
}

public struct LogSettings: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        /// JSON when standard error is not a terminal, text otherwise.
        case auto, json, text
    }

    public var level: String
    public var format: Format

    public init(level: String = "info", format: Format = .auto) {
        self.level = level
        self.format = format
    }
}
