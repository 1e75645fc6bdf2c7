import Foundation

/// A signing key as stored in Postgres: the private part sealed under the KEK (AES-256-GCM combined form:
/// nonce | ciphertext | tag, with the kid and algorithm bound as authenticated data so a sealed blob cannot be
/// moved to another row), and the public part as the JWK that goes into the JWKS.
public struct StoredSigningKey: Sendable, Equatable {
    /// The RFC 7638 JWK thumbprint (SHA-256, base64url, 43 characters) of the public key.
    public var kid: String
    public var algorithm: SigningAlgorithm
    /// The PKCS#8 DER private key, sealed.
    public var sealedPrivateKey: [UInt8]
    /// Compact JSON with sorted keys: `alg`, `e`, `kid`, `kty`, `n`, `use` (RSA) or `alg`, `crv`, `kid`,
    /// `kty`, `use`, `x`, `y` (EC); `use` is always `"sig"`.
    public var publicJWK: String
    public var createdAt: Date
    /// nil: the key may sign. Set: the key only verifies (and stays in the JWKS while tokens it signed live).
    public var retiredAt: Date?

    public init(
        kid: String,
        algorithm: SigningAlgorithm,
        sealedPrivateKey: [UInt8],
        publicJWK: String,
        createdAt: Date,
        retiredAt: Date? = nil
    ) {
        self.kid = kid
        self.algorithm = algorithm
        self.sealedPrivateKey = sealedPrivateKey
        self.publicJWK = publicJWK
        self.createdAt = createdAt
        self.retiredAt = retiredAt
    }

    public var isActive: Bool { retiredAt == nil }

    /// This key, retired at `date` (unchanged if it already was).
    public func retired(at date: Date) -> StoredSigningKey {
        var copy = self
        copy.retiredAt = copy.retiredAt ?? date
        return copy
    }

    /// Whether the key still belongs in the JWKS at `now`: active keys always; a retired key while a token it
    /// signed just before retirement could still be unexpired (`retiredAt + tokenLifetime + leeway > now`).
    public func isPublished(at now: Date, tokenLifetime: Duration, leeway: Duration = .seconds(300)) -> Bool {
        guard let retiredAt else { return true }
        let seconds = (tokenLifetime + leeway).components.seconds
        return now < retiredAt.addingTimeInterval(TimeInterval(seconds))
    }
}
