import DrawbridgeCore
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// Builds the HTTP application from its dependencies; `services` (database pools, the hash pool,
/// background workers) start before the server and stop after it.
public func buildApplication(
    dependencies: AppDependencies,
    services: [any Service] = [],
    logger: Logger = Logger(label: "drawbridge")
) async throws -> some ApplicationProtocol {
    let configuration = dependencies.configuration
    let pages = try await PageRenderer.load(publicURL: configuration.publicURL)
    let router = buildRouter(dependencies: dependencies, pages: pages)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.http.host, port: configuration.http.port), serverName: nil),
        services: services,
        onServerRunning: { _ in
            // Not before: the directory's connection pool is one of the services, running only from now on.
            if let format = await dependencies.authenticator.adoptStandInFromTable() {
                logger.info("unknown users are verified against a stand-in hash of the table's kind", metadata: ["format": "\(format.displayName)"])
            }
        },
        logger: logger
    )
}

/// The routes, with the middleware every response passes through.
public func buildRouter(dependencies: AppDependencies, pages: PageRenderer) -> Router<AppRequestContext> {
    let configuration = dependencies.configuration
    let router = Router(context: AppRequestContext.self)
    router.addMiddleware {
        RequestMetricsMiddleware()
        ClientAddressMiddleware(resolver: ClientAddressResolver(trustedProxies: configuration.trustedProxies))
        SecurityHeadersMiddleware(publicURL: configuration.publicURL, cookieDomain: configuration.session.cookieDomain)
        ErrorPageMiddleware(pages: pages)
        MethodNotAllowedMiddleware(rules: HandoffController.methodRules + PlatformSignOutController.methodRules)
    }
    let cookies = SessionCookies(settings: configuration.session, publicURL: configuration.publicURL)
    let redirects = RedirectPolicy(publicURL: configuration.publicURL, cookieDomain: configuration.session.cookieDomain)
    OperationsController(readinessChecks: dependencies.readinessChecks).addRoutes(to: router)
    StaticController(stylesheet: pages.stylesheet).addRoutes(to: router)
    let throttle = SignInThrottle(settings: configuration.loginThrottle)
    let flow = SignInFlow(
        authenticator: dependencies.authenticator, sessions: dependencies.sessions, cookies: cookies, pages: pages,
        publicURL: configuration.publicURL, provisioning: dependencies.provisioning, throttle: throttle
    )
    let oauth = dependencies.oauth
    let logout = dependencies.singleLogout
    let resolver = SessionResolver(
        sessions: dependencies.sessions, cookies: cookies, bridge: dependencies.platformSession, logout: logout,
        provisioning: dependencies.provisioning, caches: dependencies.sessionCaches
    )
    LoginController(
        flow: flow, resolver: resolver, directory: dependencies.directory, redirects: redirects, pages: pages
    ).addRoutes(to: router)
    LogoutController(
        logout: logout, sessions: dependencies.sessions, clients: oauth.clients, keys: oauth.keys, issuer: oauth.issuer,
        cookies: cookies, redirects: redirects, pages: pages
    ).addRoutes(to: router)
    HandoffController(
        handoff: HandoffService(
            directory: dependencies.directory, store: dependencies.handoffs, redirects: redirects, publicURL: configuration.publicURL,
            logger: Logger(label: "drawbridge.handoff")
        ),
        tokens: dependencies.serviceTokens, directory: dependencies.directory, flow: flow, pages: pages
    ).addRoutes(to: router)
    PlatformSignOutController(tokens: dependencies.serviceTokens, directory: dependencies.directory, logout: logout).addRoutes(to: router)
    LaunchController(connectors: dependencies.provisioning?.provisioner.connectors ?? [:], pages: pages).addRoutes(to: router)
    let clientAuthentication = ClientAuthentication(clients: oauth.clients)
    AuthorizeController(
        oauth: oauth, validator: AuthorizationRequestValidator(settings: oauth.settings), flow: flow, resolver: resolver,
        provisioning: dependencies.provisioning,
        pages: pages, publicURL: configuration.publicURL
    ).addRoutes(to: router)
    TokenController(oauth: oauth, clientAuthentication: clientAuthentication, throttle: throttle).addRoutes(to: router)
    UserController(oauth: oauth, publicURL: configuration.publicURL).addRoutes(to: router)
    TokenManagementController(oauth: oauth, clientAuthentication: clientAuthentication).addRoutes(to: router)
    DiscoveryController(oauth: oauth, publicURL: configuration.publicURL).addRoutes(to: router)
    ForwardAuthController(
        sessionResolver: resolver, oauth: oauth, redirects: redirects,
        resolver: ClientAddressResolver(trustedProxies: configuration.trustedProxies)
    ).addRoutes(to: router)
    return router
}
