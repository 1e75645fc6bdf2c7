// Recognise a stored hash's family and verify a password against it.

/// Verifies passwords against hashes from an existing user table, whatever wrote them.
///
/// - The family is recognised from the string alone (`identify`); surrounding spaces, tabs,
///   CR/LF and NULs (CHAR(n) padding, exported files) are ignored.
/// - Final digests are compared in constant time.
/// - Cost parameters are capped (`PasswordHashLimits`) before any expensive work.
/// - Passwords are used as their UTF-8 bytes, unnormalised, as every supported platform does.
///   Passwords longer than `PasswordHashLimits.maxPasswordBytes` or containing NUL never match.
/// - Never traps or throws on any input: every failure is a `PasswordVerification` value.
///
/// Refused on purpose (reported as `.unrecognised`): Spring `{noop}` and LDAP `{CLEARTEXT}`
/// (plain text), unsalted hex digests, DES crypt, and other formats listed in
/// `UnrecognisedHashGuess`.
public struct PasswordHashVerifier: Sendable {
    public init() {}

    /// Recognise a stored hash's family from the string alone (no I/O, cheap). nil when unknown.
    public func identify(_ storedHash: String) -> PasswordHashFormat? {
        HashRecognizer.recognise(HashRecognizer.trimmed(storedHash))?.format
    }

    /// The operator-facing guess for a hash `identify` does not know (the same text `verify`
    /// puts in `.unrecognised(looksLike:)`); nil when the hash is recognised. Cheap, no hashing.
    public func describeUnrecognised(_ storedHash: String) -> String? {
        let hash = HashRecognizer.trimmed(storedHash)
        return HashRecognizer.recognise(hash) == nil ? UnrecognisedHashGuess.describe(hash) : nil
    }

    /// Blocking and CPU-bound (callers run it on a thread pool). Never crashes, never throws: every failure is a value.
    public func verify(password: String, against storedHash: String) -> PasswordVerification {
        let hash = HashRecognizer.trimmed(storedHash)
        guard let recognised = HashRecognizer.recognise(hash) else {
            return .unrecognised(looksLike: UnrecognisedHashGuess.describe(hash))
        }
        let format = recognised.format
        guard hash.utf8.count <= PasswordHashLimits.maxStoredHashBytes else {
            return .malformed(format, reason: "longer than \(PasswordHashLimits.maxStoredHashBytes) bytes")
        }
        let secret = Array(password.utf8)
        // Over-long passwords, and passwords containing NUL, never match (without hashing).
        // NUL: crypt(3) would cut the password there, and HMAC pads keys with zero bytes, so
        // "pw\0" would verify against PBKDF2/scrypt hashes of "pw". No real password needs it.
        guard secret.count <= PasswordHashLimits.maxPasswordBytes, !secret.contains(0) else {
            return .mismatch(format)
        }
        let payload = recognised.payload

        switch format {
        case .bcrypt, .sha512Crypt, .sha256Crypt, .md5Crypt, .yescrypt, .scryptCrypt:
            return CryptVerifier.verify(password: secret, hash: payload, format: format)
        case .wordpressBcrypt, .djangoBcryptSHA256, .djangoBcrypt, .springBcrypt:
            return BcryptWrappers.verify(password: secret, payload: payload, format: format)
        case .argon2id, .argon2i, .argon2d, .djangoArgon2, .springArgon2:
            return Argon2Verifier.verify(password: secret, phc: payload, reportAs: format)
        case .djangoPBKDF2SHA256, .djangoPBKDF2SHA1:
            return PBKDF2Formats.verifyDjango(password: secret, hash: payload, format: format)
        case .passlibPBKDF2SHA256, .passlibPBKDF2SHA512, .passlibPBKDF2SHA1:
            return PBKDF2Formats.verifyPasslib(password: secret, hash: payload, format: format)
        case .werkzeugPBKDF2:
            return PBKDF2Formats.verifyWerkzeug(password: secret, hash: payload)
        case .djangoScrypt:
            return ScryptFormats.verifyDjango(password: secret, hash: payload)
        case .werkzeugScrypt:
            return ScryptFormats.verifyWerkzeug(password: secret, hash: payload)
        case .phpass, .drupal7:
            return PHPassVerifier.verify(password: secret, hash: payload, format: format)
        case .aspNetIdentityV2, .aspNetIdentityV3:
            return AspNetIdentity.verify(password: secret, hash: payload, format: format)
        case .ldapSHA, .ldapSSHA, .ldapSHA256, .ldapSSHA256, .ldapSHA384, .ldapSSHA384, .ldapSHA512, .ldapSSHA512:
            return LDAPVerifier.verify(password: secret, payload: payload, format: format)
        }
    }
}
