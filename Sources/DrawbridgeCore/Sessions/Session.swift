import Foundation

/// A signed-in browser, kept server-side. The cookie holds only the token; the table only its SHA-256.
public struct Session: Sendable, Equatable {
    public var userID: String
    public var login: String
    public var createdAt: Date
    public var lastSeenAt: Date
    /// The absolute end, however active the session is.
    public var expiresAt: Date

    public init(userID: String, login: String, createdAt: Date, lastSeenAt: Date, expiresAt: Date) {
        self.userID = userID
        self.login = login
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.expiresAt = expiresAt
    }
}

/// Where sessions live. Implementations must make a revoked session unusable at once.
public protocol SessionStore: Sendable {
    /// Starts a session with a fresh random token (a new id at every sign-in, so a planted id is useless).
    func create(userID: String, login: String, clientAddress: String?, userAgent: String?) async throws -> (SecretToken, Session)
    /// The live session for a token, or nil if unknown, idle too long or past its absolute end.
    /// Records activity, at most once a minute, so reads stay cheap.
    func session(for token: SecretToken) async throws -> Session?
    func delete(_ token: SecretToken) async throws
    /// Removes sessions past either expiry; returns how many.
    func deleteExpired() async throws -> Int
}
