import Foundation

/// A service token as admins see it: never the token itself, which is shown once, when it is made.
public struct ServiceTokenRecord: Sendable, Equatable, Encodable {
    public var name: String
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    public init(name: String, createdAt: Date, lastUsedAt: Date?, revokedAt: Date?) {
        self.name = name
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    enum CodingKeys: String, CodingKey {
        case name
        case createdAt = "created_at"
        case lastUsedAt = "last_used_at"
        case revokedAt = "revoked_at"
    }
}

/// Bearer tokens for the platform's backend (`drawbridge tokens add --name platform`), kept as SHA-256 only.
public protocol ServiceTokenStore: Sendable {
    /// Makes a token named `name` and returns it: the only time it is ever seen. Throws `.nameTaken` if a live token has the name.
    func add(name: String) async throws -> ServiceToken
    func list() async throws -> [ServiceTokenRecord]
    /// Revokes the named token; false when there is no live token of that name.
    func revoke(name: String) async throws -> Bool
    /// The name of the live token presented, or nil.
    func authenticate(_ presented: ServiceToken) async throws -> String?
}

/// `dbt_` and 256 random bits in base64url: the prefix lets secret scanners and log filters recognise it.
public struct ServiceToken: Sendable, Equatable {
    public static let prefix = "dbt_"
    public let value: String

    public init() {
        value = Self.prefix + SecretToken().value
    }

    /// Only well-formed tokens, so junk never reaches the database.
    public init?(presented: String) {
        guard presented.hasPrefix(Self.prefix), SecretToken(presented: String(presented.dropFirst(Self.prefix.count))) != nil else { return nil }
        value = presented
    }

    public var digest: [UInt8] { SecretToken.sha256(value) }

    /// Names are short, lowercase and safe in logs and tables: `platform`, `billing-backend`.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.unicodeScalars.count <= 63 else { return false }
        let lower = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789")
        let rest = lower.union(CharacterSet(charactersIn: "._-"))
        return lower.contains(first) && name.unicodeScalars.allSatisfy { rest.contains($0) }
    }
}

public enum ServiceTokenError: Error, Sendable, Equatable, CustomStringConvertible {
    case nameTaken(String)
    case invalidName(String)

    public var description: String {
        switch self {
        case .nameTaken(let name): "a token named '\(name)' already exists; revoke it first (drawbridge tokens revoke --name \(name)) or choose another name"
        case .invalidName(let name): "'\(name)' is not a token name: use 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
        }
    }
}
