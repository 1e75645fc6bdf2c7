// The result of verifying a password against a stored hash.

/// The outcome of checking a password against a stored hash. Every failure is a value.
public enum PasswordVerification: Sendable, Equatable {
    case match(PasswordHashFormat)
    case mismatch(PasswordHashFormat)
    /// Not a format we know. `looksLike` is a short guess for the operator's log line (e.g. "empty",
    /// "plain text?", "unknown $9$ crypt scheme", "hex digest (unsalted MD5/SHA?)").
    case unrecognised(looksLike: String)
    /// Recognised family but the string is damaged or its parameters are unusable (bad base64,
    /// wrong length, absurd cost).
    case malformed(PasswordHashFormat, reason: String)

    /// True only for `.match`.
    public var isMatch: Bool {
        if case .match = self { return true }
        return false
    }

    /// The recognised family, if any.
    public var format: PasswordHashFormat? {
        switch self {
        case .match(let format), .mismatch(let format), .malformed(let format, _): format
        case .unrecognised: nil
        }
    }
}
