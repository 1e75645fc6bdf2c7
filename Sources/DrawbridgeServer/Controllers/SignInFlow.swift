import DrawbridgeCore
import Foundation
import Hummingbird
import Logging
import Metrics

/// Checks a submitted sign-in form and starts a session; shared by `/login` and `/oauth/authorize`
/// (which shows the form at its own URL, one the Mattermost desktop app is allowed to open).
struct SignInFlow: Sendable {
    let authenticator: PasswordAuthenticator
    let sessions: any SessionStore
    let cookies: SessionCookies
    let pages: PageRenderer
    let publicURL: PublicURL
    /// Creates the chat accounts of a first sign-in (waiting briefly), and queues profile updates.
    let provisioning: ProvisioningService?
    /// Refuses further attempts for a while after too many failures per user name or client address.
    let throttle: SignInThrottle

    /// One message for every failed sign-in, so the page never tells who has an account.
    static let genericFailure = "Incorrect user name or password."

    /// Where the form posts and what it carries besides the credentials.
    struct FormTarget {
        var action: String
        var hiddenFields: [(name: String, value: String)]
        /// Shown above the form, e.g. "to continue to Chat".
        var subtitle: String?
    }

    /// The form page; keeps the browser's CSRF secret if it has a good one, so several tabs keep working.
    func formPage(request: Request, target: FormTarget, username: String?, error: String?, status: HTTPResponse.Status) -> Response {
        let secret = cookies.csrfSecret(in: request) ?? SecretToken().value
        var values: [String: Any] = [
            "title": "Sign in",
            "action": target.action,
            "csrf": CSRFToken.derive(from: secret, purpose: "login"),
            "hidden": target.hiddenFields.map { ["name": $0.name, "value": $0.value] },
        ]
        if let subtitle = target.subtitle { values["subtitle"] = subtitle }
        if let username { values["username"] = String(username.prefix(320)) }
        if let error { values["error"] = error }
        var response = pages.page("login", status: status, values: values)
        response.setCookie(cookies.csrfCookie(secret))
        return response
    }

    enum Outcome {
        /// Signed in: the caller redirects on, with this cookie set.
        case signedIn(PlatformUser, Cookie)
        /// Anything else: answer with this page.
        case page(Response)
    }

    func signIn(form: LoginForm, request: Request, context: AppRequestContext, target: FormTarget) async throws -> Outcome {
        guard CSRFToken.isValid(form.csrf, secret: cookies.csrfSecret(in: request), purpose: "login") else {
            Self.record("csrf_rejected")
            context.logger.notice("sign-in refused: missing or wrong CSRF token")
            return .page(pages.errorPage(
                status: .forbidden,
                title: "This form has expired",
                message: "For your security the sign-in form must be used within the same browser session. Please load it again."
            ))
        }
        let typedName = form.username ?? ""
        if let wait = throttle.retryAfter(user: typedName, address: context.clientAddress) {
            Self.record("throttled")
            context.logger.notice("sign-in throttled: too many failures for this user name or address")
            let minutes = max(1, Int((wait.components.seconds + 59) / 60))
            var response = formPage(
                request: request, target: target, username: form.username,
                error: "Too many failed sign-ins. Please wait \(minutes) minute\(minutes == 1 ? "" : "s") and try again.", status: .tooManyRequests
            )
            response.headers[.retryAfter] = "\(max(1, wait.components.seconds))"
            return .page(response)
        }
        let result: AuthenticationResult
        do {
            result = try await authenticator.authenticate(typedName: form.username ?? "", password: form.password ?? "")
        } catch HashingPoolError.overloaded {
            Self.record("overloaded")
            return .page(unavailable(title: "Too busy", message: "Sign-in is busy right now. Please try again in a moment."))
        } catch {
            // The platform's database is down or refused the query: nothing the user can fix, nothing to reveal.
            Self.record("unavailable")
            context.logger.error("sign-in could not reach the directory", metadata: ["error": "\(PostgresErrorText.describe(error))"])
            return .page(unavailable(title: "Sign-in unavailable", message: "Sign-in is temporarily unavailable. Please try again in a moment."))
        }
        switch result {
        case .failure(let reason):
            Self.record(reason.rawValue)
            throttle.recordFailure(user: typedName, address: context.clientAddress)
            context.logger.info("sign-in failed", metadata: ["reason": "\(reason.rawValue)"])
            return .page(formPage(request: request, target: target, username: form.username, error: Self.genericFailure, status: .unauthorized))
        case .success(let user):
            throttle.recordSuccess(user: typedName)
            Self.record("success")
            let cookie = try await openSession(for: user, replacing: cookies.sessionToken(in: request), request: request, context: context, how: "signed in")
            return .signedIn(user, cookie)
        }
    }

    /// Starts a session for a user the platform vouches for (a password, a hand-off), replacing the browser's
    /// previous one (a new id at every sign-in), and gets their chat accounts ready; returns the cookie to set.
    func openSession(for user: PlatformUser, replacing previous: SecretToken?, request: Request, context: AppRequestContext, how: String) async throws -> Cookie {
        if let previous { try? await sessions.delete(previous) }
        let (token, _) = try await sessions.create(
            userID: user.id, login: user.login, clientAddress: context.clientAddress, userAgent: request.headers[.userAgent]
        )
        context.logger.info("\(how)", metadata: ["user_id": "\(user.id)"])
        await provisioning?.afterSignIn(user)
        return cookies.sessionCookie(token)
    }

    func unavailable(title: String, message: String) -> Response {
        var response = pages.errorPage(status: .serviceUnavailable, title: title, message: message)
        response.headers[.retryAfter] = "1"
        return response
    }

    static func redirect(to location: String, status: HTTPResponse.Status = .seeOther) -> Response {
        Response(status: status, headers: [.location: location, .cacheControl: "no-store"])
    }

    static func record(_ result: String) {
        Counter(label: "drawbridge_logins_total", dimensions: [("result", result)]).increment()
    }
}

/// The fields of the sign-in, sign-out and consent forms.
struct LoginForm: Decodable {
    var username: String?
    var password: String?
    var csrf: String?
    var rd: String?
    /// `/oauth/authorize` posts: which form this is (`login` or `consent`), the original request, and the answer.
    var step: String?
    var request: String?
    var decision: String?

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
