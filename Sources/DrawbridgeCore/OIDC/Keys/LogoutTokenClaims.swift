import Foundation
import JWTKit

/// An OIDC Back-Channel Logout 1.0 logout token (§2.4): `iss`, `aud`, `iat`, `exp`, `jti`, `sub` and `sid`,
/// and the `events` member naming the back-channel-logout event. It never carries a `nonce` (§2.4 forbids
/// it, and Synapse refuses a logout token that has one).
public struct LogoutTokenClaims: JWTPayload, Equatable {
    public static let event = "http://schemas.openid.net/event/backchannel-logout"

    public var iss: String
    public var aud: String
    public var iat: Date
    public var exp: Date
    public var jti: String
    public var sub: String
    public var sid: String?

    public init(iss: String, aud: String, sub: String, sid: String?, now: Date = Date(), lifetime: TimeInterval = 120) {
        self.iss = iss
        self.aud = aud
        self.sub = sub
        self.sid = sid
        self.iat = IDTokenClaims.wholeSeconds(now)
        self.exp = IDTokenClaims.wholeSeconds(now.addingTimeInterval(lifetime))
        self.jti = SecretToken().value
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        guard Date() < exp else { throw SigningKeyError.tokenExpired(expiredAt: exp) }
    }

    enum CodingKeys: String, CodingKey {
        case iss, aud, iat, exp, jti, sub, sid, events
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        iss = try c.decode(String.self, forKey: .iss)
        aud = try c.decode(String.self, forKey: .aud)
        iat = Date(timeIntervalSince1970: try c.decode(Double.self, forKey: .iat))
        exp = Date(timeIntervalSince1970: try c.decode(Double.self, forKey: .exp))
        jti = try c.decode(String.self, forKey: .jti)
        sub = try c.decode(String.self, forKey: .sub)
        sid = try c.decodeIfPresent(String.self, forKey: .sid)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(iss, forKey: .iss)
        try c.encode(aud, forKey: .aud)
        try c.encode(IDTokenClaims.numericDate(iat), forKey: .iat)
        try c.encode(IDTokenClaims.numericDate(exp), forKey: .exp)
        try c.encode(jti, forKey: .jti)
        try c.encode(sub, forKey: .sub)
        try c.encodeIfPresent(sid, forKey: .sid)
        try c.encode([Self.event: [String: String]()], forKey: .events)
    }
}
