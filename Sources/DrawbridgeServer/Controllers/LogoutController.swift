import DrawbridgeCore
import Foundation
import Hummingbird
import Logging

/// Sign-out: `GET|POST /logout`, which is also OIDC RP-initiated logout (`end_session_endpoint`).
///
/// A GET never signs anyone out by itself (an `<img src=/logout>` on any page would), except when the
/// relying party proves it is this very session: an `id_token_hint` we signed whose `sid` is the browser's
/// session. Otherwise the browser gets a page with a sign-out button (CSRF-protected POST). Either way the
/// whole single logout runs (`SingleLogout`): session, tokens, back-channel notices, chat sessions.
struct LogoutController: Sendable {
    let logout: SingleLogout
    let sessions: any SessionStore
    let clients: any ClientStore
    let keys: SigningKeyRing
    let issuer: String
    let cookies: SessionCookies
    let redirects: RedirectPolicy
    let pages: PageRenderer
    /// Forward auth's session caches; a sign-out here must not wait for its own NOTIFY to come back.
    let sessionCaches: SessionCaches

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/logout", use: show)
        router.post("/logout", use: signOut)
    }

    /// What the relying party asked for, checked: where to go afterwards, and whose session the hint names.
    struct EndSessionRequest {
        var client: OAuthClient?
        var hint: IDTokenClaims?
        var postLogoutRedirect: String?
        var state: String?
        var rd: String?
    }

    enum RequestError: Error {
        case invalid(String)
    }

    private func parse(_ pairs: [(String, String)]) async throws -> EndSessionRequest {
        func value(_ name: String) -> String? { pairs.first { $0.0 == name }?.1.nilIfEmpty }
        var parsed = EndSessionRequest(state: value("state"), rd: value("rd"))
        if let hint = value("id_token_hint") {
            // Expired hints are fine (OIDC RP-Initiated Logout §2): the user may have been idle for hours.
            guard let claims = try? await keys.signer().verify(hint, acceptExpired: true), claims.iss == issuer else {
                throw RequestError.invalid("The id_token_hint was not issued by this provider.")
            }
            parsed.hint = claims
        }
        let clientID = value("client_id") ?? parsed.hint?.aud
        if let hinted = parsed.hint?.aud, let clientID, hinted != clientID {
            throw RequestError.invalid("client_id does not match the id_token_hint's audience.")
        }
        if let clientID {
            guard ClientSecret.isValidClientID(clientID), let client = try await clients.client(id: clientID) else {
                throw RequestError.invalid("Unknown client_id.")
            }
            parsed.client = client
        }
        if let uri = value("post_logout_redirect_uri") {
            // Exact match against the client's registered list, as for redirect_uri; never an open redirect.
            guard let client = parsed.client, client.postLogoutRedirectURIs.contains(uri) else {
                throw RequestError.invalid("post_logout_redirect_uri is not registered for this client (register it with `drawbridge clients update --post-logout-redirect-uri`).")
            }
            parsed.postLogoutRedirect = uri
        }
        return parsed
    }

    /// Where the browser goes once signed out.
    private func destination(_ request: EndSessionRequest) -> String {
        if let uri = request.postLogoutRedirect {
            return RedirectURIBuilder.build(uri, parameters: [("state", request.state)])
        }
        return request.rd.flatMap { redirects.validated($0) } ?? redirects.publicURL.url("/login")
    }

    @Sendable func show(request: Request, context: AppRequestContext) async throws -> Response {
        let endSession: EndSessionRequest
        do {
            endSession = try await parse(FormPairs.parse(request.uri.query ?? ""))
        } catch RequestError.invalid(let message) {
            return pages.errorPage(status: .badRequest, title: "This sign-out link is not valid", message: message)
        }
        guard let token = cookies.sessionToken(in: request), let session = try await sessions.session(for: token) else {
            return finish(endSession)
        }
        if let hint = endSession.hint, hint.sid == SessionID.sid(digest: token.digest) {
            return try await end(token: token, endSession, context: context)
        }
        var values: [String: Any] = [
            "title": "Sign out",
            "login": session.login,
            "csrf": CSRFToken.derive(from: token.value, purpose: "logout"),
            "logoutAction": redirects.publicURL.path("/logout"),
            "fields": [
                ["name": "post_logout_redirect_uri", "value": endSession.postLogoutRedirect ?? ""],
                ["name": "client_id", "value": endSession.client?.clientID ?? ""],
                ["name": "state", "value": endSession.state ?? ""],
                ["name": "rd", "value": endSession.rd.flatMap { redirects.validated($0) != nil ? $0 : nil } ?? ""],
            ].filter { !($0["value"] ?? "").isEmpty },
        ]
        if let client = endSession.client { values["clientName"] = client.name }
        var response = pages.page("logout", values: values)
        if let uri = endSession.postLogoutRedirect { AuthorizeController.allowFormRedirect(to: uri, in: &response) }
        return response
    }

    /// `POST /logout` (csrf, and the same parameters as the GET): the sign-out button.
    @Sendable func signOut(request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        let pairs = FormPairs.parse(String(buffer: body))
        let endSession: EndSessionRequest
        do {
            endSession = try await parse(pairs)
        } catch RequestError.invalid(let message) {
            return pages.errorPage(status: .badRequest, title: "This sign-out request is not valid", message: message)
        }
        guard let token = cookies.sessionToken(in: request) else { return finish(endSession) }
        guard CSRFToken.isValid(pairs.first { $0.0 == "csrf" }?.1, secret: token.value, purpose: "logout") else {
            return pages.errorPage(status: .forbidden, title: "This form has expired", message: "Please load the page again and sign out from there.")
        }
        return try await end(token: token, endSession, context: context)
    }

    private func end(token: SecretToken, _ endSession: EndSessionRequest, context: AppRequestContext) async throws -> Response {
        sessionCaches.invalidate(.session(digest: token.digest))
        _ = try await logout.end(digest: token.digest)  // logs what it did
        return finish(endSession)
    }

    private func finish(_ endSession: EndSessionRequest) -> Response {
        var response = SignInFlow.redirect(to: destination(endSession))
        response.setCookie(cookies.expiredSessionCookie())
        return response
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
