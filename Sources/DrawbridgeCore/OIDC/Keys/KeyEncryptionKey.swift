import Crypto
import Foundation

/// The key-encryption key (KEK): 32 random bytes, given to Drawbridge as base64 (from the environment or a
/// secret file), that seals the signing keys' private parts with AES-256-GCM before they go to Postgres.
///
/// Its `description` never shows the key, so logging one by mistake leaks nothing.
public struct KeyEncryptionKey: Sendable, CustomStringConvertible {
    let key: SymmetricKey

    /// Accepts standard or URL-safe base64, padded or not; surrounding whitespace (the newline at the end
    /// of a secret file) is ignored.
    public init(base64: String) throws(SigningKeyError) {
        var text = Substring(base64.trimmingCharacters(in: .whitespacesAndNewlines))
        while text.last == "=" { text.removeLast() }
        let urlSafe = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        guard !urlSafe.isEmpty, urlSafe.utf8.count % 4 != 1, let bytes = Base64URL.decode(urlSafe) else {
            throw .keyEncryptionKeyNotBase64
        }
        guard bytes.count == 32 else {
            throw .keyEncryptionKeyWrongLength(byteCount: bytes.count)
        }
        self.key = SymmetricKey(data: bytes)
    }

    init(key: SymmetricKey) {
        self.key = key
    }

    /// A new random key (for `drawbridge keys generate-kek` and tests).
    public static func generate() -> KeyEncryptionKey {
        KeyEncryptionKey(key: SymmetricKey(size: .bits256))
    }

    /// Standard padded base64, the form `openssl rand -base64 32` prints.
    public var base64: String {
        key.withUnsafeBytes { Data($0).base64EncodedString() }
    }

    public var description: String { "KeyEncryptionKey(redacted)" }

    // MARK: sealing

    /// AES-GCM combined form (12-byte nonce | ciphertext | 16-byte tag) of `plaintext`, with the kid and the
    /// algorithm as authenticated data.
    func seal(_ plaintext: [UInt8], kid: String, algorithm: SigningAlgorithm) throws -> [UInt8] {
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: Self.associatedData(kid: kid, algorithm: algorithm))
        guard let combined = box.combined else {
            // Only nil for nonces that are not 12 bytes; we always use the default one.
            throw SigningKeyError.keyGenerationFailed(reason: "AES-GCM produced no combined representation")
        }
        return Array(combined)
    }

    /// Opens a blob made by `seal` for the same kid and algorithm.
    func open(_ sealed: [UInt8], kid: String, algorithm: SigningAlgorithm) throws(SigningKeyError) -> [UInt8] {
        guard sealed.count > 12 + 16 else {
            throw .corruptStoredKey(kid: kid, reason: "the sealed private key is only \(sealed.count) bytes long")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return Array(try AES.GCM.open(box, using: key, authenticating: Self.associatedData(kid: kid, algorithm: algorithm)))
        } catch {
            throw .wrongEncryptionKey(kid: kid)
        }
    }

    /// Versioned, unambiguous (NUL-separated; a kid is URL-safe text and never contains NUL).
    static func associatedData(kid: String, algorithm: SigningAlgorithm) -> [UInt8] {
        Array("drawbridge-oidc-signing-key/v1".utf8) + [0] + Array(kid.utf8) + [0] + Array(algorithm.rawValue.utf8)
    }
}
