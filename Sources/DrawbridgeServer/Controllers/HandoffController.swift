import DrawbridgeCore
import Foundation
import Hummingbird
import Logging
import Metrics

/// The hand-off API (`POST /api/v1/handoff`, see `openapi/drawbridge.yaml`) and the one-time links it makes
/// (`GET /handoff/{code}`), which give the browser a session cookie and send it on.
struct HandoffController: Sendable {
    let handoff: HandoffService
    let tokens: any ServiceTokenStore
    let directory: any UserDirectory
    /// Sessions are opened as a sign-in opens them (chat accounts included).
    let flow: SignInFlow
    let pages: PageRenderer

    /// The methods of this controller's paths, for `MethodNotAllowedMiddleware`.
    static let methodRules: [MethodNotAllowedMiddleware<AppRequestContext>.Rule] = [
        .init("/api/v1/handoff", allowed: [.post]),
        .init("/handoff/:code", allowed: [.get]),
    ]

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/api/v1/handoff", use: issue)
        router.get("/handoff/:code", use: redeem)
    }

    struct Issued: Encodable {
        var url: String
        var expiresAt: String
        var expiresIn: Int64
        var userID: String

        enum CodingKeys: String, CodingKey {
            case url
            case expiresAt = "expires_at"
            case expiresIn = "expires_in"
            case userID = "user_id"
        }
    }

    @Sendable func issue(request: Request, context: AppRequestContext) async throws -> Response {
        let (tokenName, body): (String, HandoffService.Request)
        switch try await ServiceAPI.accept(request, tokens: tokens, context: context, as: HandoffService.Request.self,
                                           shape: "{\"user\": \"<login or id>\", \"redirect\": \"<url>\"} (optional \"match\": \"any\" | \"id\" | \"login\")") {
        case .success(let accepted): (tokenName, body) = accepted
        case .failure(let refusal):
            if refusal.tokenRefused { Self.record("invalid_token") }
            return refusal.response
        }
        do {
            let issued = try await handoff.issue(body, tokenName: tokenName)
            Self.record("issued")
            return try OAuthHTTP.json(
                Issued(url: issued.url, expiresAt: issued.expiresAt.formatted(.iso8601), expiresIn: handoff.lifetime.wholeSeconds, userID: issued.userID),
                status: .created
            )
        } catch let error as HandoffError {
            Self.record(error.code)
            return ServiceAPI.problem(ServiceAPI.status(of: error), error.code, error.description)
        } catch {
            context.logger.error("hand-off failed", metadata: ["error": "\(PostgresErrorText.describe(error))"])
            return ServiceAPI.unavailable
        }
    }

    @Sendable func redeem(request: Request, context: AppRequestContext) async throws -> Response {
        let code = context.parameters.get("code") ?? ""
        let current = try await currentSession(request)
        switch try await handoff.redeem(code: code) {
        case .redeemed(let grant):
            guard let user = try await directory.user(id: grant.platformUserID, login: grant.login), user.isActive else {
                Self.record("redeem_inactive")
                return expiredPage()
            }
            var response = SignInFlow.redirect(to: grant.redirect)
            if current?.session.userID != user.id {
                response.setCookie(try await flow.openSession(
                    for: user, replacing: current?.token, request: request, context: context, how: "signed in by hand-off (token \(grant.tokenName))"
                ))
            }
            Self.record("redeemed")
            return response
        case .alreadyUsed(let grant) where current?.session.userID == grant.platformUserID:
            // A reload or a double click by the browser the link already signed in.
            return SignInFlow.redirect(to: grant.redirect)
        case .alreadyUsed, .expired, .unknown:
            Self.record("redeem_refused")
            return expiredPage()
        }
    }

    private func currentSession(_ request: Request) async throws -> (token: SecretToken, session: Session)? {
        guard let token = flow.cookies.sessionToken(in: request), let session = try await flow.sessions.session(for: token) else { return nil }
        return (token, session)
    }

    private func expiredPage() -> Response {
        pages.errorPage(
            status: .badRequest, title: "This sign-in link has expired",
            message: "Sign-in links work once, for a minute. Go back to where you came from and try again, or sign in here."
        )
    }

    static func record(_ result: String) {
        Counter(label: "drawbridge_handoffs_total", dimensions: [("result", result)]).increment()
    }
}
