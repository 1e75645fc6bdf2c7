import Crypto

/// Anti-forgery tokens for forms, derived from a secret the attacker's page cannot read.
///
/// Before sign-in the secret is a random value in an HttpOnly cookie (double submit: a cross-site form
/// cannot know it); with a session it is the session token itself. The page carries
/// HMAC-SHA256(secret, purpose), never the secret, and a token for one form is useless on another.
public enum CSRFToken {
    public static func derive(from secret: String, purpose: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(purpose.utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return Base64URL.encode(mac)
    }

    /// Constant-time check of a submitted token.
    public static func isValid(_ submitted: String?, secret: String?, purpose: String) -> Bool {
        guard let submitted, let secret, !secret.isEmpty else { return false }
        let expected = derive(from: secret, purpose: purpose)
        return ConstantTime.equals(Array(submitted.utf8), Array(expected.utf8))
    }
}
