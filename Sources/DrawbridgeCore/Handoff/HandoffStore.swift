import Foundation

/// What a one-time sign-in link carries.
public struct HandoffGrant: Sendable, Equatable {
    public var platformUserID: String
    public var login: String
    public var redirect: String
    public var tokenName: String

    public init(platformUserID: String, login: String, redirect: String, tokenName: String) {
        self.platformUserID = platformUserID
        self.login = login
        self.redirect = redirect
        self.tokenName = tokenName
    }
}

public enum HandoffRedemption: Sendable, Equatable {
    /// First use, in time: sign the browser in.
    case redeemed(HandoffGrant)
    /// Used before (a reload, a double click): only a browser already signed in as this user may go on.
    case alreadyUsed(HandoffGrant)
    case expired
    case unknown
}

/// One-time sign-in links (`POST /api/v1/handoff`), kept as the SHA-256 of their code.
public protocol HandoffStore: Sendable {
    func create(_ grant: HandoffGrant, lifetime: Duration) async throws -> (code: SecretToken, expiresAt: Date)
    /// Marks the link used, atomically: of two concurrent visits exactly one gets `.redeemed`.
    func redeem(_ code: SecretToken) async throws -> HandoffRedemption
    /// Drops links that expired over an hour ago.
    func deleteExpired() async throws -> Int
}
