import DrawbridgeCore
import Foundation
import Hummingbird
import Logging
import Metrics

/// `POST /api/v1/logout`: the platform's backend says a user signed out of the platform. Platforms that hand
/// users over (`/api/v1/handoff`) share no session table Drawbridge could watch, so this is how their
/// sign-out reaches Drawbridge and chat: every Drawbridge session of the user ends (single logout: tokens,
/// back-channel notices) and their chat sessions are revoked through the outbox, even when Drawbridge held
/// no session any more.
struct PlatformSignOutController: Sendable {
    let tokens: any ServiceTokenStore
    let directory: any UserDirectory
    let logout: SingleLogout

    static let methodRules: [MethodNotAllowedMiddleware<AppRequestContext>.Rule] = [
        .init("/api/v1/logout", allowed: [.post]),
    ]

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/api/v1/logout", use: signOut)
    }

    struct Body: Decodable {
        var user: String
        var match: PlatformUserFinder.Match?

        enum CodingKeys: String, CodingKey {
            case user, match
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            user = try container.decode(String.self, forKey: .user)
            match = try PlatformUserFinder.match(in: container, forKey: .match)
        }
    }

    struct SignedOut: Encodable {
        var userID: String
        var sessionsEnded: Int
        var chatSignOuts: Int

        enum CodingKeys: String, CodingKey {
            case userID = "user_id"
            case sessionsEnded = "sessions_ended"
            case chatSignOuts = "chat_sign_outs"
        }
    }

    @Sendable func signOut(request: Request, context: AppRequestContext) async throws -> Response {
        let (tokenName, body): (String, Body)
        switch try await ServiceAPI.accept(request, tokens: tokens, context: context, as: Body.self,
                                           shape: "{\"user\": \"<login or id>\"} (optional \"match\": \"any\" | \"id\" | \"login\")") {
        case .success(let accepted): (tokenName, body) = accepted
        case .failure(let refusal):
            if refusal.tokenRefused { Self.record("invalid_token") }
            return refusal.response
        }
        do {
            let name = try PlatformUserFinder.validated(body.user)
            // Inactive users are found too: signing them out is exactly right.
            let user = try await PlatformUserFinder(directory: directory).find(name, match: body.match ?? .any)
            let (sessions, chatJobs) = try await logout.signOut(userID: user.id, login: user.login)
            context.logger.info("signed out by the platform", metadata: [
                "token": "\(tokenName)", "user_id": "\(user.id)", "sessions": "\(sessions.count)", "chat_jobs": "\(chatJobs)",
            ])
            Self.record("signed_out")
            return try OAuthHTTP.json(SignedOut(userID: user.id, sessionsEnded: sessions.count, chatSignOuts: chatJobs), status: .ok)
        } catch let error as HandoffError {
            Self.record(error.code)
            return ServiceAPI.problem(ServiceAPI.status(of: error), error.code, error.description)
        } catch {
            context.logger.error("platform sign-out failed", metadata: ["error": "\(PostgresErrorText.describe(error))"])
            return ServiceAPI.unavailable
        }
    }

    static func record(_ result: String) {
        Counter(label: "drawbridge_platform_signouts_total", dimensions: [("result", result)]).increment()
    }
}
