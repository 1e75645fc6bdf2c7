import Foundation

/// What an authorization code carries from `/oauth/authorize` to `/oauth/token`.
public struct AuthorizationCodeGrant: Sendable, Equatable {
    public var clientID: String
    public var userID: String
    public var userLogin: String
    public var redirectURI: String
    public var scope: Scope
    public var nonce: String?
    public var codeChallenge: String?
    public var codeChallengeMethod: PKCE.Method?
    /// SHA-256 of the browser session that approved it (the id_token's `sid`, and single logout).
    public var sessionHash: [UInt8]?
    public var authTime: Date

    public init(clientID: String, userID: String, userLogin: String, redirectURI: String, scope: Scope, nonce: String?,
                codeChallenge: String?, codeChallengeMethod: PKCE.Method?, sessionHash: [UInt8]?, authTime: Date) {
        self.clientID = clientID
        self.userID = userID
        self.userLogin = userLogin
        self.redirectURI = redirectURI
        self.scope = scope
        self.nonce = nonce
        self.codeChallenge = codeChallenge
        self.codeChallengeMethod = codeChallengeMethod
        self.sessionHash = sessionHash
        self.authTime = authTime
    }
}

/// What a token stands for (access or refresh).
public struct TokenGrant: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case access, refresh
    }

    public var kind: Kind
    public var familyID: UUID
    public var clientID: String
    /// nil for client_credentials tokens, which act for the client itself.
    public var userID: String?
    public var userLogin: String?
    public var scope: Scope
    public var sessionHash: [UInt8]?
    public var authTime: Date?
    public var createdAt: Date
    public var expiresAt: Date
    public var rotatedAt: Date?
    public var revokedAt: Date?

    public init(kind: Kind, familyID: UUID, clientID: String, userID: String?, userLogin: String?, scope: Scope, sessionHash: [UInt8]?,
                authTime: Date?, createdAt: Date, expiresAt: Date, rotatedAt: Date? = nil, revokedAt: Date? = nil) {
        self.kind = kind
        self.familyID = familyID
        self.clientID = clientID
        self.userID = userID
        self.userLogin = userLogin
        self.scope = scope
        self.sessionHash = sessionHash
        self.authTime = authTime
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.rotatedAt = rotatedAt
        self.revokedAt = revokedAt
    }

    public func isUsable(at now: Date = Date()) -> Bool { revokedAt == nil && expiresAt > now }
}

/// A freshly minted access token (and refresh token, when the client may refresh): shown once.
public struct IssuedTokens: Sendable {
    public var accessToken: SecretToken
    public var refreshToken: SecretToken?
    public var grant: TokenGrant
}

/// Codes and tokens. Every lookup is by SHA-256; the plain values exist only in responses.
public protocol GrantStore: Sendable {
    func storeCode(_ code: SecretToken, grant: AuthorizationCodeGrant, lifetime: Duration) async throws

    /// Marks the code used and returns its grant, exactly once. A second use returns `.replayed` and
    /// revokes every token issued from the code (RFC 6749 §4.1.2).
    func redeemCode(_ code: SecretToken) async throws -> CodeRedemption

    /// Issues an access token (and a refresh token if `refreshLifetime` is given) in one family.
    func issueTokens(familyID: UUID, clientID: String, userID: String?, userLogin: String?, scope: Scope,
                     sessionHash: [UInt8]?, authTime: Date?, accessLifetime: Duration, refreshLifetime: Duration?) async throws -> IssuedTokens

    func token(_ token: SecretToken) async throws -> TokenGrant?

    /// Rotates a refresh token and, in the same statement, issues its successors (narrowed to `scope` when
    /// given, which must be within the grant's), or tells why it cannot be used.
    func rotateRefreshToken(_ token: SecretToken, clientID: String, scope: Scope?, reuseGrace: Duration,
                            accessLifetime: Duration, refreshLifetime: Duration) async throws -> RefreshRotation

    /// Revokes one token; a refresh token takes its whole family with it. False when unknown or not the client's.
    func revoke(_ token: SecretToken, clientID: String) async throws -> Bool
    func revokeFamily(_ familyID: UUID) async throws
    func revokeAll(userID: String) async throws -> Int
    /// Revokes every token and unused code issued in a browser session; returns the clients that got any
    /// (revoked now or earlier: their own sessions may outlive the tokens, so they still hear of the logout).
    func revokeSession(digest: [UInt8]) async throws -> [String]

    func hasConsent(userID: String, clientID: String, scope: Scope) async throws -> Bool
    func recordConsent(userID: String, clientID: String, scope: Scope) async throws

    /// Deletes codes and tokens past their expiry (rotated and revoked ones included: once expired they can
    /// no longer be replayed, so nothing is lost); returns how many rows went.
    func deleteExpired() async throws -> Int

    /// The stable non-zero integer id for a platform user (the GitLab `id`).
    func numericID(forPlatformID platformID: String) async throws -> Int64
}

public enum CodeRedemption: Sendable, Equatable {
    case redeemed(AuthorizationCodeGrant, codeHash: [UInt8], expired: Bool)
    case replayed
    case unknown
}

public enum RefreshRotation: Sendable {
    /// The old token is rotated; `issued` are its successors, in the same family.
    case rotated(IssuedTokens)
    /// Reused after the grace window: the family is now revoked.
    case reuseDetected
    /// The requested scope is wider than the grant's; nothing was rotated.
    case scopeTooWide
    case invalid
}

/// Token families. A code exchange's family is derived from the code, so a replayed code can revoke
/// every token issued from it through the family index, without an index on the code of its own.
public enum TokenFamily {
    public static func forCode(hash: [UInt8]) -> UUID {
        var bytes = Array(hash.prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80  // RFC 9562 version 8: custom
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 9562 variant
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
