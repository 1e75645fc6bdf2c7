import DrawbridgeCore
import Logging
import PostgresNIO
import ServiceLifecycle

extension AppDependencies {
    /// The production wiring: pooled clients for both databases, the hash pool, the session reaper and (with
    /// `cache.listen`) the listener that keeps the caches in step with other replicas. The returned services
    /// must run (in a ServiceGroup or as the application's services).
    public static func live(
        configuration: DrawbridgeConfiguration,
        logger: Logger,
        directoryTimeout: Duration = .seconds(5)
    ) throws -> (AppDependencies, [any Service]) {
        _ = MetricsBootstrap.registry
        let database = PostgresClient(
            configuration: configuration.database.url.clientConfiguration(maxConnections: configuration.database.maxConnections, schema: configuration.database.schema),
            backgroundLogger: logger
        )
        let platform = PostgresClient(
            configuration: configuration.directory.url.clientConfiguration(maxConnections: configuration.directory.maxConnections, readOnly: true),
            backgroundLogger: logger
        )
        let pool = HashingPool(settings: configuration.hashing)
        let directory = PostgresUserDirectory(client: platform, settings: configuration.directory, logger: logger, lookupTimeout: directoryTimeout)
        let sessions = PostgresSessionStore(client: database, schema: configuration.database.schema, settings: configuration.session, logger: logger)
        let authenticator = try PasswordAuthenticator(directory: directory, pool: pool, logger: logger)
        let schema = configuration.database.schema
        let keyRing = try SigningKeyRing.configured(configuration, client: database, logger: logger)
        let grants = PostgresGrantStore(client: database, schema: schema, logger: logger)
        let cacheLifetime = configuration.cache.lifetime
        let oauth = OAuthService(
            settings: configuration.oauth, issuer: configuration.publicURL.description,
            clients: CachingClientStore(PostgresClientStore(client: database, schema: schema, logger: logger), lifetime: cacheLifetime),
            grants: grants,
            directory: directory, keys: keyRing, authenticator: authenticator, logger: logger,
            tokenCacheLifetime: cacheLifetime, invalidations: PostgresCacheInvalidationPublisher(client: database, logger: logger)
        )
        let sessionCaches = SessionCaches(lifetime: cacheLifetime)
        let handoffs = PostgresHandoffStore(client: database, schema: schema, logger: logger)
        var services: [any Service] = [database, platform, pool, SessionReaper(store: sessions, grants: grants, handoffs: handoffs, logger: logger)]
        if configuration.cache.listen {
            services.append(CacheInvalidationListener(url: configuration.database.url, targets: [oauth, sessionCaches], logger: logger))
        }
        var provisioning: ProvisioningService?
        if !configuration.provisioning.connectors.isEmpty {
            let store = ProvisioningStore(client: database, schema: schema, logger: logger)
            let provisioner = Provisioner(
                connectors: configuration.provisioning.connectors.map(\.connector), store: store, directory: directory,
                grants: oauth.grants, logger: logger
            )
            let worker = ProvisioningWorker(provisioner: provisioner, settings: configuration.provisioning.settings, logger: logger)
            services.append(worker)
            provisioning = ProvisioningService(store: store, worker: worker, provisioner: provisioner, settings: configuration.provisioning.settings, logger: logger)
        }
        let dependencies = AppDependencies(
            configuration: configuration,
            sessions: sessions,
            authenticator: authenticator,
            directory: directory,
            oauth: oauth,
            provisioning: provisioning,
            readinessChecks: [
                ReadinessCheck(name: "database") { _ = try await database.query("SELECT 1").collect() },
                ReadinessCheck(name: "directory") { try await directory.ping() },
            ],
            platformSession: configuration.platformSession.map { PlatformSessionBridge(settings: $0, client: platform, directory: directory, logger: logger) },
            serviceTokens: PostgresServiceTokenStore(client: database, schema: schema, logger: logger),
            handoffs: handoffs,
            sessionCaches: sessionCaches
        )
        if let bridge = dependencies.platformSession {
            if bridge.canCheckWithoutCookie {
                services.append(PlatformSignOutWatcher(bridge: bridge, sessions: sessions, logout: dependencies.singleLogout, logger: logger))
            } else {
                logger.notice("""
                    platform_session.hash is none: a platform sign-out ends Drawbridge's session, and chat's, only when that browser \
                    next reaches Drawbridge; with hash: sha256 Drawbridge notices it within recheck_interval by itself
                    """)
            }
        }
        return (dependencies, services)
    }
}
