import Foundation
import Logging

/// The hand-off API: the platform's backend, holding a service token, asks for a one-time URL that signs a
/// browser in as one of its users and sends it on. The backend already knows who the user is, so no
/// password is involved; what keeps this safe is the token (hashed at rest), the link's single use and short
/// life, and the redirect rule sign-in itself uses (only the cookie domain, so never an open redirect).
public struct HandoffService: Sendable {
    /// `POST /api/v1/handoff`'s body.
    public struct Request: Sendable, Decodable {
        public var user: String
        public var redirect: String
        /// How `user` is matched: `id`, `login` (the configured `login_by` fields), or `any` (the default: the
        /// platform id, then the login, refusing when they name two different people).
        public var match: Match?

        public init(user: String, redirect: String, match: Match? = nil) {
            self.user = user
            self.redirect = redirect
            self.match = match
        }

        enum CodingKeys: String, CodingKey {
            case user, redirect, match
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            user = try container.decode(String.self, forKey: .user)
            redirect = try container.decode(String.self, forKey: .redirect)
            match = try PlatformUserFinder.match(in: container, forKey: .match)
        }
    }

    public typealias Match = PlatformUserFinder.Match

    public struct Issued: Sendable, Equatable {
        public var url: String
        public var expiresAt: Date
        public var userID: String
    }

    let directory: any UserDirectory
    let store: any HandoffStore
    let redirects: RedirectPolicy
    let publicURL: PublicURL
    public let lifetime: Duration
    let logger: Logger

    public init(directory: any UserDirectory, store: any HandoffStore, redirects: RedirectPolicy, publicURL: PublicURL,
                lifetime: Duration = .seconds(60), logger: Logger) {
        self.directory = directory
        self.store = store
        self.redirects = redirects
        self.publicURL = publicURL
        self.lifetime = lifetime
        self.logger = logger
    }

    public static let path = "/handoff/"

    public func issue(_ request: Request, tokenName: String) async throws -> Issued {
        let name = try PlatformUserFinder.validated(request.user)
        guard let redirect = redirects.validated(request.redirect) else {
            let domain = redirects.cookieDomain.map { "\($0) or its subdomains" } ?? publicURL.host
            throw HandoffError.redirectNotAllowed("redirect must be a path on Drawbridge or an https URL on \(domain)")
        }
        let user = try await PlatformUserFinder(directory: directory).find(name, match: request.match ?? .any)
        guard user.isActive else { throw HandoffError.inactiveUser }
        let grant = HandoffGrant(platformUserID: user.id, login: user.login, redirect: redirect, tokenName: tokenName)
        let (code, expiresAt) = try await store.create(grant, lifetime: lifetime)
        logger.info("hand-off link issued", metadata: ["token": "\(tokenName)", "user_id": "\(user.id)"])
        return Issued(url: publicURL.url(Self.path + code.value), expiresAt: expiresAt, userID: user.id)
    }

    /// Uses a link. The caller still checks that the user may sign in now.
    public func redeem(code: String) async throws -> HandoffRedemption {
        guard let token = SecretToken(presented: code) else { return .unknown }
        return try await store.redeem(token)
    }
}

/// Why a hand-off was refused; `code` is the API's `error` value.
public enum HandoffError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidRequest(String)
    case redirectNotAllowed(String)
    case unknownUser
    case inactiveUser
    case ambiguousUser(String)

    public var code: String {
        switch self {
        case .invalidRequest: "invalid_request"
        case .redirectNotAllowed: "redirect_not_allowed"
        case .unknownUser: "unknown_user"
        case .inactiveUser: "inactive_user"
        case .ambiguousUser: "ambiguous_user"
        }
    }

    public var description: String {
        switch self {
        case .invalidRequest(let text), .redirectNotAllowed(let text), .ambiguousUser(let text): text
        case .unknownUser: "no platform user has that id or login"
        case .inactiveUser: "that platform user is not active and cannot sign in"
        }
    }
}
