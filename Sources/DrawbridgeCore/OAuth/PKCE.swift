import Crypto

/// Proof Key for Code Exchange (RFC 7636).
public enum PKCE {
    public enum Method: String, Sendable {
        case s256 = "S256"
        case plain
    }

    /// 43–128 characters from the unreserved set (RFC 7636 §4.1; the challenge has the same shape).
    public static func isWellFormed(_ value: String) -> Bool {
        (43...128).contains(value.utf8.count)
            && value.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || [0x2d, 0x2e, 0x5f, 0x7e].contains($0) }
    }

    public static func challenge(for verifier: String) -> String {
        Base64URL.encode(SHA256.hash(data: Array(verifier.utf8)))
    }

    /// Constant-time check of a verifier against the stored challenge.
    public static func verify(verifier: String?, challenge: String, method: Method) -> Bool {
        guard let verifier, isWellFormed(verifier) else { return false }
        let computed = method == .s256 ? Self.challenge(for: verifier) : verifier
        return ConstantTime.equals(Array(computed.utf8), Array(challenge.utf8))
    }
}
