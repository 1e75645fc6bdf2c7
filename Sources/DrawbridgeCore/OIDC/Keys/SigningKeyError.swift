import Foundation

/// Everything that can go wrong with signing keys and id_tokens, phrased for the operator
/// (none of the messages contains key material).
public enum SigningKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The key-encryption key is not base64 at all.
    case keyEncryptionKeyNotBase64
    /// The key-encryption key decodes, but not to 32 bytes.
    case keyEncryptionKeyWrongLength(byteCount: Int)
    /// AES-GCM refused to open the sealed private key: another KEK sealed it, or the blob was altered
    /// or copied from another row (the kid and algorithm are bound as authenticated data).
    case wrongEncryptionKey(kid: String)
    /// The blob opened but its content is not a usable private key of the row's algorithm.
    case corruptStoredKey(kid: String, reason: String)
    /// The stored public JWK does not belong to the stored private key.
    case publicKeyMismatch(kid: String)
    /// Two keys with the same kid were given.
    case duplicateKeyID(String)
    /// No key without `retiredAt` was given, so there is nothing to sign with.
    case noActiveKey
    /// Generating a key pair failed (should not happen).
    case keyGenerationFailed(reason: String)
    /// The token is not a compact JWS we could read.
    case malformedToken(reason: String)
    /// The token names a key id that is not among the keys (or none at all).
    case unknownKeyID(String?)
    /// The token's header `alg` is not the algorithm of the key it names.
    case algorithmMismatch(kid: String, expected: SigningAlgorithm, found: String?)
    /// The signature does not verify.
    case invalidSignature
    /// The token's `exp` has passed.
    case tokenExpired(expiredAt: Date)

    public var description: String {
        switch self {
        case .keyEncryptionKeyNotBase64:
            "the key-encryption key is not base64: it must be 32 random bytes in base64, e.g. the output of `openssl rand -base64 32`"
        case .keyEncryptionKeyWrongLength(let count):
            "the key-encryption key decodes to \(count) byte\(count == 1 ? "" : "s"), but it must be exactly 32 random bytes in base64 (44 characters with padding), e.g. the output of `openssl rand -base64 32`"
        case .wrongEncryptionKey(let kid):
            "signing key \(kid) cannot be decrypted with the configured key-encryption key: it was sealed under a different key-encryption key, or its stored private key was altered or copied from another key's row"
        case .corruptStoredKey(let kid, let reason):
            "signing key \(kid) is stored in a form that cannot be used: \(reason)"
        case .publicKeyMismatch(let kid):
            "signing key \(kid): the stored public JWK does not match its private key (the row was altered)"
        case .duplicateKeyID(let kid):
            "signing key id \(kid) occurs more than once"
        case .noActiveKey:
            "there is no active signing key (every key is retired or none exists): run `drawbridge keys rotate` to create one"
        case .keyGenerationFailed(let reason):
            "could not generate a signing key: \(reason)"
        case .malformedToken(let reason):
            "the token is malformed: \(reason)"
        case .unknownKeyID(let kid?):
            "the token was signed with key id \(kid), which is not one of this provider's keys"
        case .unknownKeyID(nil):
            "the token names no key id (kid)"
        case .algorithmMismatch(let kid, let expected, let found):
            "the token's algorithm \(found ?? "(none)") does not match key \(kid), which is \(expected.rawValue)"
        case .invalidSignature:
            "the token's signature is invalid"
        case .tokenExpired(let date):
            "the token expired at \(date.ISO8601Format())"
        }
    }
}
