import Foundation
import JWTKit

/// The claims of an id_token (OIDC Core §2, §5.1), with the standard claim names on the wire (`auth_time`,
/// `at_hash`, `preferred_username`, `email_verified`). Times are NumericDate: whole seconds since 1970,
/// encoded as JSON integers (the initializer drops fractions of a second, so a round trip compares equal).
public struct IDTokenClaims: JWTPayload, Equatable {
    public var iss: String
    public var sub: String
    /// A single audience (the client_id), encoded as a JSON string.
    public var aud: String
    public var exp: Date
    public var iat: Date
    public var authTime: Date?
    public var nonce: String?
    public var atHash: String?
    public var sid: String?
    public var name: String?
    public var preferredUsername: String?
    public var email: String?
    public var emailVerified: Bool?

    public init(
        iss: String,
        sub: String,
        aud: String,
        exp: Date,
        iat: Date,
        authTime: Date? = nil,
        nonce: String? = nil,
        atHash: String? = nil,
        sid: String? = nil,
        name: String? = nil,
        preferredUsername: String? = nil,
        email: String? = nil,
        emailVerified: Bool? = nil
    ) {
        self.iss = iss
        self.sub = sub
        self.aud = aud
        self.exp = Self.wholeSeconds(exp)
        self.iat = Self.wholeSeconds(iat)
        self.authTime = authTime.map(Self.wholeSeconds)
        self.nonce = nonce
        self.atHash = atHash
        self.sid = sid
        self.name = name
        self.preferredUsername = preferredUsername
        self.email = email
        self.emailVerified = emailVerified
    }

    /// Checks the expiry only (jwt-kit calls this after the signature verified); issuer and audience are the
    /// caller's to check.
    public func verify(using algorithm: some JWTAlgorithm) async throws {
        guard Date() < exp else { throw SigningKeyError.tokenExpired(expiredAt: exp) }
    }

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, nonce, sid, name, email
        case authTime = "auth_time"
        case atHash = "at_hash"
        case preferredUsername = "preferred_username"
        case emailVerified = "email_verified"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        iss = try c.decode(String.self, forKey: .iss)
        sub = try c.decode(String.self, forKey: .sub)
        if let single = try? c.decode(String.self, forKey: .aud) {
            aud = single
        } else {
            // RFC 7519 allows an array; we only ever issue one audience.
            let many = try c.decode([String].self, forKey: .aud)
            guard many.count == 1 else {
                throw DecodingError.dataCorruptedError(forKey: .aud, in: c, debugDescription: "expected exactly one audience, found \(many.count)")
            }
            aud = many[0]
        }
        exp = Self.wholeSeconds(Date(timeIntervalSince1970: try c.decode(Double.self, forKey: .exp)))
        iat = Self.wholeSeconds(Date(timeIntervalSince1970: try c.decode(Double.self, forKey: .iat)))
        authTime = try c.decodeIfPresent(Double.self, forKey: .authTime).map { Self.wholeSeconds(Date(timeIntervalSince1970: $0)) }
        nonce = try c.decodeIfPresent(String.self, forKey: .nonce)
        atHash = try c.decodeIfPresent(String.self, forKey: .atHash)
        sid = try c.decodeIfPresent(String.self, forKey: .sid)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        preferredUsername = try c.decodeIfPresent(String.self, forKey: .preferredUsername)
        email = try c.decodeIfPresent(String.self, forKey: .email)
        emailVerified = try c.decodeIfPresent(Bool.self, forKey: .emailVerified)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(iss, forKey: .iss)
        try c.encode(sub, forKey: .sub)
        try c.encode(aud, forKey: .aud)
        try c.encode(Self.numericDate(exp), forKey: .exp)
        try c.encode(Self.numericDate(iat), forKey: .iat)
        try c.encodeIfPresent(authTime.map(Self.numericDate), forKey: .authTime)
        try c.encodeIfPresent(nonce, forKey: .nonce)
        try c.encodeIfPresent(atHash, forKey: .atHash)
        try c.encodeIfPresent(sid, forKey: .sid)
        try c.encodeIfPresent(name, forKey: .name)
        try c.encodeIfPresent(preferredUsername, forKey: .preferredUsername)
        try c.encodeIfPresent(email, forKey: .email)
        try c.encodeIfPresent(emailVerified, forKey: .emailVerified)
    }

    static func wholeSeconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
    }

    static func numericDate(_ date: Date) -> Int64 {
        Int64(date.timeIntervalSince1970.rounded(.down))
    }
}
