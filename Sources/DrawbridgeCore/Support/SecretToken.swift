import Crypto

/// A bearer secret (session id, CSRF value): 256 random bits, shown once as base64url,
/// stored only as its SHA-256 so a database leak yields nothing usable.
public struct SecretToken: Sendable, Equatable {
    public let value: String

    public init() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        self.value = Base64URL.encode(bytes)
    }

    /// Accepts only well-formed tokens (43 base64url characters, 32 bytes), so junk never reaches the database.
    public init?(presented: String) {
        guard presented.utf8.count == 43, let bytes = Base64URL.decode(presented), bytes.count == 32 else { return nil }
        self.value = presented
    }

    /// The at-rest form.
    public var digest: [UInt8] { Self.sha256(value) }

    public static func sha256(_ text: String) -> [UInt8] { Array(SHA256.hash(data: Array(text.utf8))) }
}
