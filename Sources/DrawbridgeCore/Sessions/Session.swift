import Foundation

/// A signed-in browser, kept server-side. The cookie holds only the token; the table only its SHA-256.
public struct Session: Sendable, Equatable {
    public var userID: String
    public var login: String
    public var createdAt: Date
    public var lastSeenAt: Date
    /// The absolute end, however active the session is.
    public var expiresAt: Date
    /// For a session opened from the platform's session cookie: SHA-256 of that cookie, and when the platform
    /// last confirmed it. Nil for sessions signed in here.
    public var platformSessionHash: [UInt8]?
    public var platformCheckedAt: Date?

    public init(userID: String, login: String, createdAt: Date, lastSeenAt: Date, expiresAt: Date,
                platformSessionHash: [UInt8]? = nil, platformCheckedAt: Date? = nil) {
        self.userID = userID
        self.login = login
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.expiresAt = expiresAt
        self.platformSessionHash = platformSessionHash
        self.platformCheckedAt = platformCheckedAt
    }
}

/// Where sessions live. Implementations must make a revoked session unusable at once.
public protocol SessionStore: Sendable {
    /// Starts a session with a fresh random token (a new id at every sign-in, so a planted id is useless).
    func create(userID: String, login: String, clientAddress: String?, userAgent: String?, platformSessionHash: [UInt8]?) async throws -> (SecretToken, Session)
    /// The live session for a token, or nil if unknown, idle too long or past its absolute end.
    /// Records activity, at most once a minute, so reads stay cheap.
    func session(for token: SecretToken) async throws -> Session?
    func delete(_ token: SecretToken) async throws
    /// Removes sessions past either expiry; returns how many.
    func deleteExpired() async throws -> Int
    /// Ends one session by its stored digest; returns it, or nil when there was none.
    func end(digest: [UInt8]) async throws -> Session?
    /// The live sessions, newest first, of one user (by platform id) or of everyone.
    func list(userID: String?, limit: Int) async throws -> [SessionRecord]
    /// Records that the platform confirmed the session it was opened from, just now.
    func platformConfirmed(digest: [UInt8]) async throws
    /// The newest live session opened from the platform session with this fingerprint, with its digest.
    func session(platformSessionHash: [UInt8]) async throws -> (digest: [UInt8], session: Session)?
    /// Up to `limit` live sessions opened from the platform and last confirmed longer than `olderThan` ago,
    /// claimed for `lease` so that no other replica asks about them too; the platform is to be asked about
    /// each. A claim is not a confirmation: the request path still sees the session as due.
    func claimPlatformRechecks(olderThan: Duration, lease: Duration, limit: Int) async throws -> [(digest: [UInt8], session: Session)]
    /// The platform gave no answer: the session is asked about again after `retryAfter`, still unconfirmed.
    func platformUnanswered(digest: [UInt8], retryAfter: Duration) async throws
}

extension SessionStore {
    public func create(userID: String, login: String, clientAddress: String?, userAgent: String?) async throws -> (SecretToken, Session) {
        try await create(userID: userID, login: login, clientAddress: clientAddress, userAgent: userAgent, platformSessionHash: nil)
    }
}

/// A live session as admins see it (`drawbridge sessions list`): never the token, only what identifies it.
public struct SessionRecord: Sendable, Equatable {
    /// SHA-256 of the cookie's token, as stored.
    public var digest: [UInt8]
    public var session: Session
    public var clientAddress: String?
    public var userAgent: String?

    public init(digest: [UInt8], session: Session, clientAddress: String?, userAgent: String?) {
        self.digest = digest
        self.session = session
        self.clientAddress = clientAddress
        self.userAgent = userAgent
    }

    /// The OIDC `sid` of this session, as id_tokens and logout tokens carry it.
    public var sid: String { SessionID.sid(digest: digest) }
}

/// The session identifier relying parties see: the first half of the stored digest, base64url. It names the
/// session without revealing the token (the digest is already one-way, and only half of it is shown).
public enum SessionID {
    public static func sid(digest: [UInt8]) -> String { Base64URL.encode(digest.prefix(16)) }
}
