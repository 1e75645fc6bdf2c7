import DrawbridgeCore
import Foundation
import Hummingbird
import Logging
import Metrics

/// The sign-in form, sign-out, and the signed-in start page.
struct LoginController: Sendable {
    let authenticator: PasswordAuthenticator
    let sessions: any SessionStore
    let directory: any UserDirectory
    let cookies: SessionCookies
    let redirects: RedirectPolicy
    let pages: PageRenderer

    /// One message for every failed sign-in, so the page never tells who has an account.
    static let genericFailure = "Incorrect user name or password."

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/", use: home)
        router.get("/login", use: showForm)
        router.post("/login", use: signIn)
        router.post("/logout", use: signOut)
    }

    /// `GET /login?rd=URL`: the form; an already signed-in browser goes straight on to `rd`.
    @Sendable func showForm(request: Request, context: AppRequestContext) async throws -> Response {
        let rd = request.uri.queryParameters.get("rd")
        if let token = cookies.sessionToken(in: request), try await sessions.session(for: token) != nil {
            return redirect(to: redirects.target(for: rd))
        }
        return formPage(request: request, rd: rd, username: nil, error: nil, status: .ok)
    }

    /// `POST /login` (username, password, csrf, rd).
    @Sendable func signIn(request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await LoginForm.decode(from: request, context: context)
        guard CSRFToken.isValid(form.csrf, secret: cookies.csrfSecret(in: request), purpose: "login") else {
            Self.recordLogin("csrf_rejected")
            context.logger.notice("sign-in refused: missing or wrong CSRF token")
            return pages.errorPage(
                status: .forbidden,
                title: "This form has expired",
                message: "For your security the sign-in form must be used within the same browser session. Please load it again.",
                retry: loginURL(rd: form.rd)
            )
        }
        let result: AuthenticationResult
        do {
            result = try await authenticator.authenticate(typedName: form.username ?? "", password: form.password ?? "")
        } catch HashingPoolError.overloaded {
            Self.recordLogin("overloaded")
            return unavailable(title: "Too busy", message: "Sign-in is busy right now. Please try again in a moment.")
        } catch {
            // The platform's database is down or refused the query: nothing the user can fix, nothing to reveal.
            Self.recordLogin("unavailable")
            context.logger.error("sign-in could not reach the directory", metadata: ["error": "\(PostgresErrorText.describe(error))"])
            return unavailable(title: "Sign-in unavailable", message: "Sign-in is temporarily unavailable. Please try again in a moment.")
        }
        switch result {
        case .failure(let reason):
            Self.recordLogin(reason.rawValue)
            context.logger.info("sign-in failed", metadata: ["reason": "\(reason.rawValue)"])
            return formPage(request: request, rd: form.rd, username: form.username, error: Self.genericFailure, status: .unauthorized)
        case .success(let user):
            if let previous = cookies.sessionToken(in: request) {
                try? await sessions.delete(previous)
            }
            let (token, _) = try await sessions.create(
                userID: user.id,
                login: user.login,
                clientAddress: context.clientAddress,
                userAgent: request.headers[.userAgent]
            )
            Self.recordLogin("success")
            context.logger.info("signed in", metadata: ["user_id": "\(user.id)"])
            var response = redirect(to: redirects.target(for: form.rd))
            response.setCookie(cookies.sessionCookie(token))
            return response
        }
    }

    /// `POST /logout` (csrf, rd): ends the session here and clears the cookie on the shared domain.
    @Sendable func signOut(request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await LoginForm.decode(from: request, context: context)
        guard let token = cookies.sessionToken(in: request) else {
            var response = redirect(to: loginURL(rd: nil))
            response.setCookie(cookies.expiredSessionCookie())
            return response
        }
        guard CSRFToken.isValid(form.csrf, secret: token.value, purpose: "logout") else {
            return pages.errorPage(status: .forbidden, title: "This form has expired", message: "Please load the page again and sign out from there.")
        }
        try await sessions.delete(token)
        context.logger.info("signed out")
        var response = redirect(to: form.rd.flatMap { redirects.validated($0) } ?? loginURL(rd: nil))
        response.setCookie(cookies.expiredSessionCookie())
        return response
    }

    /// `GET /`: who is signed in, with a sign-out button; otherwise on to the form.
    @Sendable func home(request: Request, context: AppRequestContext) async throws -> Response {
        guard let token = cookies.sessionToken(in: request), let session = try await sessions.session(for: token) else {
            return redirect(to: loginURL(rd: nil))
        }
        let user = try? await directory.user(matching: session.login)
        return pages.page("home", values: [
            "title": "Signed in",
            "displayName": user?.name ?? session.login,
            "login": session.login,
            "csrf": CSRFToken.derive(from: token.value, purpose: "logout"),
            "logoutAction": redirects.publicURL.path("/logout"),
        ])
    }

    private func formPage(request: Request, rd: String?, username: String?, error: String?, status: HTTPResponse.Status) -> Response {
        // Keep the browser's CSRF secret if it has a good one: several open tabs keep working.
        let secret = cookies.csrfSecret(in: request) ?? SecretToken().value
        var values: [String: Any] = [
            "title": "Sign in",
            "action": redirects.publicURL.path("/login"),
            "csrf": CSRFToken.derive(from: secret, purpose: "login"),
            "rd": rd.flatMap { redirects.validated($0) != nil ? $0 : nil } ?? "",
        ]
        if let username { values["username"] = String(username.prefix(320)) }
        if let error { values["error"] = error }
        var response = pages.page("login", status: status, values: values)
        response.setCookie(cookies.csrfCookie(secret))
        return response
    }

    private func loginURL(rd: String?) -> String {
        var components = URLComponents()
        if let rd, redirects.validated(rd) != nil { components.queryItems = [URLQueryItem(name: "rd", value: rd)] }
        return redirects.publicURL.url("/login") + (components.percentEncodedQuery.map { "?\($0)" } ?? "")
    }

    private func unavailable(title: String, message: String) -> Response {
        var response = pages.errorPage(status: .serviceUnavailable, title: title, message: message)
        response.headers[.retryAfter] = "1"
        return response
    }

    private func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    static func recordLogin(_ result: String) {
        Counter(label: "drawbridge_logins_total", dimensions: [("result", result)]).increment()
    }
}

/// The fields of the sign-in and sign-out forms.
struct LoginForm: Decodable {
    var username: String?
    var password: String?
    var csrf: String?
    var rd: String?

    static func decode(from request: Request, context: AppRequestContext) async throws -> LoginForm {
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        let text = String(buffer: body)
        guard !text.isEmpty else { return LoginForm() }
        do {
            return try URLEncodedFormDecoder().decode(LoginForm.self, from: text)
        } catch {
            throw HTTPError(.badRequest, message: "The form could not be read.")
        }
    }
}
