// New hashes in a few common formats: demo data, tests, and timing-equalising dummy hashes.

/// Why `PasswordHasher` could not produce a hash.
public struct PasswordHashingError: Error, CustomStringConvertible, Sendable, Equatable {
    public let format: PasswordHashFormat
    public let message: String

    public init(format: PasswordHashFormat, message: String) {
        self.format = format
        self.message = message
    }

    public var description: String { "cannot hash as \(format.displayName): \(message)" }
}

/// Produces new hashes in a few common formats — used for demo data, tests, and for
/// timing-equalising dummy hashes. Salts come from the operating system's CSPRNG.
public struct PasswordHasher: Sendable {
    /// The formats `hash` can write.
    public static let supportedFormats: [PasswordHashFormat] = [.bcrypt, .sha512Crypt, .yescrypt, .argon2id, .djangoPBKDF2SHA256]

    /// Django 5.2's default PBKDF2-SHA256 iteration count.
    public static let defaultDjangoIterations = 1_000_000

    public init() {}

    /// Supported: .bcrypt (cost = work factor 4–16, default 10), .sha512Crypt (cost = rounds,
    /// default 5 000), .yescrypt (cost = libxcrypt's 1–11 scale, default 5), .argon2id (cost =
    /// iterations t, default 3, with m = 64 MiB, p = 4 as argon2-cffi), .djangoPBKDF2SHA256 (cost =
    /// iterations, default 1 000 000). Throws PasswordHashingError for others.
    ///
    /// bcrypt uses only the first 72 bytes of the password (as PHP does); crypt(3) formats
    /// cannot hash passwords containing NUL.
    public func hash(_ password: String, format: PasswordHashFormat, cost: Int? = nil) throws -> String {
        let secret = Array(password.utf8)
        func fail(_ message: String) -> PasswordHashingError { PasswordHashingError(format: format, message: message) }
        guard secret.count <= PasswordHashLimits.maxPasswordBytes else {
            throw fail("password longer than \(PasswordHashLimits.maxPasswordBytes) bytes")
        }
        switch format {
        case .bcrypt:
            let workFactor = cost ?? 10
            guard (4...PasswordHashLimits.maxBcryptCost).contains(workFactor) else {
                throw fail("cost must be 4–\(PasswordHashLimits.maxBcryptCost)")
            }
            return try crypt(Array(secret.prefix(CryptVerifier.bcryptMaxPasswordBytes)), prefix: "$2b$", count: workFactor, format)
        case .sha512Crypt:
            let rounds = cost ?? 5000
            guard (1000...PasswordHashLimits.maxSHACryptRounds).contains(rounds) else {
                throw fail("rounds must be 1000–\(PasswordHashLimits.maxSHACryptRounds)")
            }
            return try crypt(secret, prefix: "$6$", count: rounds == 5000 ? 0 : rounds, format)
        case .yescrypt:
            let level = cost ?? 5
            guard (1...11).contains(level) else { throw fail("cost must be 1–11") }
            return try crypt(secret, prefix: "$y$", count: level, format)
        case .argon2id:
            let iterations = cost ?? 3
            guard (1...10).contains(iterations) else { throw fail("cost (iterations) must be 1–10") }
            guard let encoded = Argon2Verifier.hashArgon2id(password: secret, iterations: iterations,
                                                            memoryKiB: 65536, parallelism: 4) else {
                throw fail("libargon2 failed")
            }
            return encoded
        case .djangoPBKDF2SHA256:
            let iterations = cost ?? Self.defaultDjangoIterations
            guard iterations >= 1, iterations <= PasswordHashLimits.maxPBKDF2Work else {
                throw fail("iterations must be 1–\(PasswordHashLimits.maxPBKDF2Work)")
            }
            let salt = Self.djangoSalt()
            guard let derived = PBKDF2Derivation.derive(password: secret, salt: Array(salt.utf8), prf: .sha256,
                                              iterations: iterations, outputLength: 32) else {
                throw fail("PBKDF2 failed")
            }
            return "pbkdf2_sha256$\(iterations)$\(salt)$\(Base64Codec.standard.encode(derived, pad: true))"
        default:
            throw fail("not supported for new hashes (supported: \(Self.supportedFormats.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    private func crypt(_ secret: [UInt8], prefix: String, count: Int, _ format: PasswordHashFormat) throws -> String {
        guard !secret.contains(0) else {
            throw PasswordHashingError(format: format, message: "password contains NUL")
        }
        guard secret.count <= LibXCrypt.maxPhraseBytes else {
            throw PasswordHashingError(format: format, message: "password longer than \(LibXCrypt.maxPhraseBytes) bytes")
        }
        guard let setting = LibXCrypt.generateSetting(prefix: prefix, count: count) else {
            throw PasswordHashingError(format: format, message: "libxcrypt could not make a salt")
        }
        switch LibXCrypt.crypt(phrase: secret, setting: Array(setting.utf8)) {
        case .hashed(let output): return String(decoding: output, as: UTF8.self)
        case .failed: throw PasswordHashingError(format: format, message: "libxcrypt could not hash")
        }
    }

    /// Django's salt: 22 characters of [a-zA-Z0-9] (`get_random_string(22)`, ~131 bits).
    private static func djangoSalt() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
        var generator = SystemRandomNumberGenerator()
        let chars = (0..<22).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }
        return String(decoding: chars, as: UTF8.self)
    }
}
