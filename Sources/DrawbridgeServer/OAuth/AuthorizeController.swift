import DrawbridgeCore
import Foundation
import Hummingbird
import Logging

/// `GET|POST /oauth/authorize`: codes for signed-in users, the sign-in form (at this same URL, which the
/// Mattermost desktop app may open) for the others, and the consent page for clients that are not trusted.
struct AuthorizeController: Sendable {
    let oauth: OAuthService
    let validator: AuthorizationRequestValidator
    let flow: SignInFlow
    let resolver: SessionResolver
    let provisioning: ProvisioningService?
    let pages: PageRenderer
    let publicURL: PublicURL

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/oauth/authorize", use: authorize)
        router.post("/oauth/authorize", use: submit)
    }

    @Sendable func authorize(request: Request, context: AppRequestContext) async throws -> Response {
        try await handle(query: request.uri.query ?? "", request: request, context: context, forceLogin: nil)
    }

    /// The sign-in and consent forms post here, carrying the original query in `request`.
    @Sendable func submit(request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await LoginForm.decode(from: request, context: context)
        let query = form.request ?? ""
        switch form.step {
        case "login":
            switch try await flow.signIn(form: form, request: request, context: context, target: loginTarget(query: query, clientName: nil)) {
            case .page(var response):
                // The form again (a wrong password): its next answer still leads to the client.
                if let redirectURI = try await validatedRedirectURI(query: query) { Self.allowFormRedirect(to: redirectURI, in: &response) }
                return response
            case .signedIn(_, let cookie):
                // Back to the same request, without prompt=login (it has just been honoured).
                let pairs = FormPairs.parse(query).compactMap { name, value -> (String, String)? in
                    guard name == "prompt" else { return (name, value) }
                    let rest = value.split(separator: " ").filter { $0 != "login" }.joined(separator: " ")
                    return rest.isEmpty ? nil : (name, rest)
                }
                var response = SignInFlow.redirect(to: publicURL.path("/oauth/authorize") + "?" + Self.encode(pairs))
                response.setCookie(cookie)
                return response
            }
        case "consent":
            return try await handle(query: query, request: request, context: context, consent: form)
        default:
            throw HTTPError(.badRequest, message: "Unknown form.")
        }
    }

    private func handle(query: String, request: Request, context: AppRequestContext, forceLogin: Bool? = nil, consent: LoginForm? = nil) async throws -> Response {
        let pairs = FormPairs.parse(query)
        let clientID = pairs.first { $0.0 == "client_id" }?.1 ?? ""
        let client = ClientSecret.isValidClientID(clientID) ? try await oauth.clients.client(id: clientID) : nil
        let authorization: AuthorizationRequest
        do {
            authorization = try validator.validate(pairs, client: client)
        } catch .notRedirectable(let message) {
            context.logger.notice("authorization request refused", metadata: ["client_id": "\(clientID.prefix(64))", "reason": "\(message)"])
            return pages.errorPage(status: .badRequest, title: "This sign-in link is not valid", message: message)
        } catch .redirectable(let error, let partial) {
            return SignInFlow.redirect(to: partial.errorRedirect(error), status: .found)
        }

        // Who is signed in, if anyone, and may they still be?
        var signedIn: (SecretToken, Session, PlatformUser)?
        let resolved = try await resolver.resolve(request, context: context)
        if let resolved {
            let (token, session) = (resolved.token, resolved.session)
            if let user = try await oauth.activeUser(id: session.userID, login: session.login) {
                signedIn = (token, session, user)
            } else {
                // Deactivated on the platform: no code, ever (Mattermost would reactivate the chat account).
                // The whole single logout: the session's tokens and relying parties' sessions end too.
                _ = try await resolver.logout.end(digest: token.digest)
                await provisioning?.deactivate(userID: session.userID, login: session.login)
                context.logger.notice("authorization refused: platform user inactive", metadata: ["user_id": "\(session.userID)"])
                return SignInFlow.redirect(to: authorization.errorRedirect(OAuthError(.accessDenied, "the account is disabled")), status: .found)
            }
        }
        let wantsLogin = authorization.prompt.contains("login") && consent == nil
        guard let (token, session, user) = signedIn, !wantsLogin else {
            if authorization.prompt.contains("none") {
                return SignInFlow.redirect(to: authorization.errorRedirect(OAuthError(.loginRequired, "no signed-in session")), status: .found)
            }
            var page = flow.formPage(request: request, target: loginTarget(query: query, clientName: authorization.client.name), username: authorization.loginHint, error: nil, status: .ok)
            Self.allowFormRedirect(to: authorization.redirectURI, in: &page)
            return page
        }

        if let connector = try await provisioning?.heldConnector(clientID: authorization.client.clientID, userID: user.id) {
            context.logger.notice("authorization refused: chat account deprovisioned by an admin", metadata: ["user_id": "\(user.id)", "connector": "\(connector)"])
            return SignInFlow.redirect(to: authorization.errorRedirect(OAuthError(.accessDenied, "your \(connector) account was deactivated by an administrator")), status: .found)
        }
        if let consent {
            guard CSRFToken.isValid(consent.csrf, secret: token.value, purpose: "consent") else {
                return pages.errorPage(status: .forbidden, title: "This form has expired", message: "Please go back to the application and start again.")
            }
            guard consent.decision == "allow" else {
                context.logger.info("consent denied", metadata: ["client_id": "\(authorization.client.clientID)"])
                return SignInFlow.redirect(to: authorization.errorRedirect(OAuthError(.accessDenied, "the user denied access")), status: .found)
            }
            try await oauth.grants.recordConsent(userID: user.id, clientID: authorization.client.clientID, scope: authorization.scope)
        } else if !authorization.client.isTrusted {
            let remembered = try await oauth.grants.hasConsent(userID: user.id, clientID: authorization.client.clientID, scope: authorization.scope)
            if !remembered || authorization.prompt.contains("consent") {
                if authorization.prompt.contains("none") {
                    return SignInFlow.redirect(to: authorization.errorRedirect(OAuthError(.consentRequired, "the user has not approved this application")), status: .found)
                }
                var page = consentPage(authorization, query: query, token: token, user: user)
                Self.allowFormRedirect(to: authorization.redirectURI, in: &page)
                return page
            }
        }
        let location = try await oauth.approve(authorization, user: user, session: session, sessionToken: token)
        context.logger.info("authorization granted", metadata: ["client_id": "\(authorization.client.clientID)", "user_id": "\(user.id)"])
        var response = SignInFlow.redirect(to: location, status: .found)
        // Signed in from the platform's session on this very request: the browser keeps the new session.
        if let cookie = resolved?.newCookie { response.setCookie(cookie) }
        return response
    }

    /// The redirect_uri of an authorization request, only once it is known to be exactly a registered one.
    private func validatedRedirectURI(query: String) async throws -> String? {
        let pairs = FormPairs.parse(query)
        let clientID = pairs.first { $0.0 == "client_id" }?.1 ?? ""
        guard ClientSecret.isValidClientID(clientID), let client = try await oauth.clients.client(id: clientID) else { return nil }
        return try? validator.validate(pairs, client: client).redirectURI
    }

    /// These forms answer with a redirect to the client's (exact, registered) redirect_uri, which the page's
    /// CSP form-action must allow, or Chrome blocks it.
    static func allowFormRedirect(to redirectURI: String, in response: inout Response) {
        if let target = SecurityHeadersMiddleware<AppRequestContext>.formTarget(forRedirectURI: redirectURI) {
            response.headers[.drawbridgeFormTarget] = target
        }
    }

    private func loginTarget(query: String, clientName: String?) -> SignInFlow.FormTarget {
        .init(
            action: publicURL.path("/oauth/authorize"),
            hiddenFields: [("step", "login"), ("request", query)],
            subtitle: clientName.map { "to continue to \($0)" }
        )
    }

    private func consentPage(_ authorization: AuthorizationRequest, query: String, token: SecretToken, user: PlatformUser) -> Response {
        let descriptions: [String: String] = [
            "openid": "Confirm who you are",
            "profile": "See your name and user name",
            "email": "See your email address",
            "read_user": "See your name, user name and email address",
            "offline_access": "Stay connected when you are away",
        ]
        let host = URLComponents(string: authorization.redirectURI)?.host ?? authorization.redirectURI
        return pages.page("consent", values: [
            "title": "Allow access",
            "client": authorization.client.name,
            "host": host,
            "user": user.name ?? user.login,
            "scopes": authorization.scope.values.map { descriptions[$0] ?? $0 },
            "action": publicURL.path("/oauth/authorize"),
            "request": query,
            "csrf": CSRFToken.derive(from: token.value, purpose: "consent"),
        ])
    }

    static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(RedirectURIBuilder.percentEncode($0.0))=\(RedirectURIBuilder.percentEncode($0.1))" }.joined(separator: "&")
    }
}
