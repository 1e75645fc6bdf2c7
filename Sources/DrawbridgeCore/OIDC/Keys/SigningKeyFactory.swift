import Foundation

/// Makes new signing keys, ready to insert, and re-seals keys under a new KEK.
public enum SigningKeyFactory {
    /// A new active key: RSA 2048 (RS256, ~0.1 s) or P-256 (ES256). Its kid is the RFC 7638 thumbprint of
    /// its public key; its private key is sealed under `kek`.
    public static func generate(_ algorithm: SigningAlgorithm, kek: KeyEncryptionKey, now: Date = Date()) throws -> StoredSigningKey {
        let (key, pkcs8) = try PrivateSigningKey.generate(algorithm)
        let jwk = try key.publicJWK()
        return StoredSigningKey(
            kid: jwk.kid,
            algorithm: algorithm,
            sealedPrivateKey: try kek.seal(pkcs8, kid: jwk.kid, algorithm: algorithm),
            publicJWK: jwk.json,
            createdAt: Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        )
    }

    /// The same key sealed under `newKEK` instead of `oldKEK` (for replacing the KEK). Throws
    /// `.wrongEncryptionKey` if `oldKEK` does not open it, `.publicKeyMismatch` if the row was altered.
    public static func reseal(_ key: StoredSigningKey, from oldKEK: KeyEncryptionKey, to newKEK: KeyEncryptionKey) throws -> StoredSigningKey {
        let (_, pkcs8) = try UnsealedSigningKey.open(key, kek: oldKEK)
        var copy = key
        copy.sealedPrivateKey = try newKEK.seal(pkcs8, kid: key.kid, algorithm: key.algorithm)
        return copy
    }
}

/// Opening a stored key and checking it against its row.
enum UnsealedSigningKey {
    /// The private key and its PKCS#8 DER; the row's public JWK must be the one the private key implies.
    static func open(_ stored: StoredSigningKey, kek: KeyEncryptionKey) throws(SigningKeyError) -> (key: PrivateSigningKey, pkcs8: [UInt8]) {
        let pkcs8 = try kek.open(stored.sealedPrivateKey, kid: stored.kid, algorithm: stored.algorithm)
        let key = try PrivateSigningKey(pkcs8: pkcs8, algorithm: stored.algorithm, kid: stored.kid)
        let derived = try key.publicJWK(kid: stored.kid)
        guard let recorded = PublicJWK(json: stored.publicJWK), recorded == derived else {
            throw .publicKeyMismatch(kid: stored.kid)
        }
        return (key, pkcs8)
    }
}
