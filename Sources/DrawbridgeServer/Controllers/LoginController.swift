import DrawbridgeCore
import Foundation
import Hummingbird
import Logging

/// The sign-in form and the signed-in start page (sign-out is `LogoutController`).
struct LoginController: Sendable {
    let flow: SignInFlow
    let resolver: SessionResolver
    let directory: any UserDirectory
    let redirects: RedirectPolicy
    let pages: PageRenderer

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/", use: home)
        router.get("/login", use: showForm)
        router.post("/login", use: signIn)
    }

    private func target(rd: String?) -> SignInFlow.FormTarget {
        let safe = rd.flatMap { redirects.validated($0) != nil ? $0 : nil } ?? ""
        return .init(action: redirects.publicURL.path("/login"), hiddenFields: [("rd", safe)])
    }

    /// `GET /login?rd=URL`: the form; an already signed-in browser goes straight on to `rd`.
    @Sendable func showForm(request: Request, context: AppRequestContext) async throws -> Response {
        let rd = request.uri.queryParameters.get("rd")
        if let resolved = try await resolver.resolve(request, context: context) {
            var response = SignInFlow.redirect(to: redirects.target(for: rd))
            if let cookie = resolved.newCookie { response.setCookie(cookie) }
            return response
        }
        return flow.formPage(request: request, target: target(rd: rd), username: nil, error: nil, status: .ok)
    }

    /// `POST /login` (username, password, csrf, rd).
    @Sendable func signIn(request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await LoginForm.decode(from: request, context: context)
        switch try await flow.signIn(form: form, request: request, context: context, target: target(rd: form.rd)) {
        case .page(let response):
            return response
        case .signedIn(_, let cookie):
            var response = SignInFlow.redirect(to: redirects.target(for: form.rd))
            response.setCookie(cookie)
            return response
        }
    }

    /// `GET /`: who is signed in, with a sign-out button; otherwise on to the form.
    @Sendable func home(request: Request, context: AppRequestContext) async throws -> Response {
        guard let resolved = try await resolver.resolve(request, context: context) else {
            return SignInFlow.redirect(to: loginURL())
        }
        let (token, session) = (resolved.token, resolved.session)
        let user = try? await directory.user(id: session.userID, login: session.login)
        var response = pages.page("home", values: [
            "title": "Signed in",
            "displayName": user?.name ?? session.login,
            "login": session.login,
            "csrf": CSRFToken.derive(from: token.value, purpose: "logout"),
            "logoutAction": redirects.publicURL.path("/logout"),
        ])
        if let cookie = resolved.newCookie { response.setCookie(cookie) }
        return response
    }

    private func loginURL() -> String { redirects.publicURL.url("/login") }
}
