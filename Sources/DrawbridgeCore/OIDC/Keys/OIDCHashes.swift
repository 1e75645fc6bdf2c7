import Crypto

/// The hashes OIDC Core puts into id_tokens.
public enum OIDCHashes {
    /// `at_hash` / `c_hash` (OIDC Core §3.1.3.6, §3.3.2.11): hash the ASCII octets of the token with the hash
    /// of the id_token's `alg` (SHA-256 for RS256 and ES256), take the left half, base64url it without padding.
    public static func leftHalfHash(of token: String, algorithm: SigningAlgorithm) -> String {
        switch algorithm {
        case .rs256, .es256:
            let digest = Array(SHA256.hash(data: Array(token.utf8)))
            return Base64URL.encode(digest.prefix(digest.count / 2))
        }
    }
}
