/// The JWS algorithm id_tokens are signed with. RS256 is the default: OIDC Core requires every provider
/// to support it and every relying party to accept it. ES256 gives shorter tokens.
public enum SigningAlgorithm: String, Sendable, Codable, CaseIterable {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over a 2048-bit RSA key.
    case rs256 = "RS256"
    /// ECDSA with SHA-256 over a P-256 key (signature is the 64-byte r||s of RFC 7518 §3.4).
    case es256 = "ES256"

    /// The JWK `kty` of keys for this algorithm.
    var keyType: String {
        switch self {
        case .rs256: "RSA"
        case .es256: "EC"
        }
    }
}
