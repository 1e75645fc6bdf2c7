// PBKDF2-based formats: Django, passlib and Werkzeug (ASP.NET Identity has its own file).

import Crypto
import _CryptoExtras

/// PBKDF2 through swift-crypto, with the cost cap applied first.
enum PBKDF2Derivation {
    enum PRF: Sendable {
        case md5, sha1, sha224, sha256, sha384, sha512

        var digestLength: Int {
            switch self {
            case .md5: 16
            case .sha1: 20
            case .sha224: 28
            case .sha256: 32
            case .sha384: 48
            case .sha512: 64
            }
        }

        fileprivate var function: KDF.Insecure.PBKDF2.HashFunction {
            switch self {
            case .md5: .insecureMD5
            case .sha1: .insecureSHA1
            case .sha224: .insecureSHA224
            case .sha256: .sha256
            case .sha384: .sha384
            case .sha512: .sha512
            }
        }

        /// hashlib names, as Werkzeug writes them.
        init?(hashlibName: Substring) {
            switch hashlibName {
            case "md5": self = .md5
            case "sha1": self = .sha1
            case "sha224": self = .sha224
            case "sha256": self = .sha256
            case "sha384": self = .sha384
            case "sha512": self = .sha512
            default: return nil
            }
        }
    }

    /// Why these parameters are refused, or nil when they are within the caps.
    static func costProblem(iterations: Int, outputLength: Int, prf: PRF) -> String? {
        guard iterations >= 1 else { return "iteration count must be at least 1" }
        guard (1...4096).contains(outputLength) else { return "derived key length \(outputLength) out of range" }
        let blocks = (outputLength + prf.digestLength - 1) / prf.digestLength
        let (work, overflow) = iterations.multipliedReportingOverflow(by: blocks)
        guard !overflow, work <= PasswordHashLimits.maxPBKDF2Work else {
            return "\(iterations) iterations above the cap of \(PasswordHashLimits.maxPBKDF2Work)"
        }
        return nil
    }

    /// PBKDF2-HMAC; nil if swift-crypto refuses (callers have checked the cost already).
    static func derive(password: [UInt8], salt: [UInt8], prf: PRF, iterations: Int, outputLength: Int) -> [UInt8]? {
        guard costProblem(iterations: iterations, outputLength: outputLength, prf: prf) == nil else { return nil }
        // `unsafeUncheckedRounds`: stored hashes legitimately use fewer than swift-crypto's
        // 210 000-round minimum for new keys (passlib 29 000, ASP.NET v2 1 000).
        guard let key = try? KDF.Insecure.PBKDF2.deriveKey(
            from: password, salt: salt, using: prf.function,
            outputByteCount: outputLength, unsafeUncheckedRounds: iterations)
        else { return nil }
        return key.withUnsafeBytes { Array($0) }
    }
}

enum PBKDF2Formats {
    /// Django `pbkdf2_sha256$iterations$salt$base64(hash)` and `pbkdf2_sha1$…`.
    static func verifyDjango(password: [UInt8], hash: Substring, format: PasswordHashFormat) -> PasswordVerification {
        let prf: PBKDF2Derivation.PRF = format == .djangoPBKDF2SHA1 ? .sha1 : .sha256
        let fields = hash.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 4 else { return .malformed(format, reason: "expected algorithm$iterations$salt$hash") }
        guard let iterations = HashText.decimal(fields[1]) else { return .malformed(format, reason: "bad iteration count") }
        guard !fields[2].isEmpty, fields[2].utf8.count <= PasswordHashLimits.maxSaltBytes else {
            return .malformed(format, reason: "bad salt")
        }
        guard let expected = Base64Codec.standard.decode(fields[3], padding: .required), expected.count == prf.digestLength else {
            return .malformed(format, reason: "hash is not base64 of \(prf.digestLength) bytes")
        }
        return check(password: password, salt: Array(fields[2].utf8), prf: prf, iterations: iterations,
                     expected: expected, format: format)
    }

    /// passlib `$pbkdf2-sha256$rounds$ab64(salt)$ab64(hash)` (also `-sha512`, and `$pbkdf2$` = SHA-1).
    static func verifyPasslib(password: [UInt8], hash: Substring, format: PasswordHashFormat) -> PasswordVerification {
        let prf: PBKDF2Derivation.PRF
        switch format {
        case .passlibPBKDF2SHA512: prf = .sha512
        case .passlibPBKDF2SHA1: prf = .sha1
        default: prf = .sha256
        }
        let fields = hash.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 5 else { return .malformed(format, reason: "expected $pbkdf2-…$rounds$salt$hash") }
        guard let iterations = HashText.decimal(fields[2]) else { return .malformed(format, reason: "bad rounds") }
        guard let salt = Base64Codec.passlib.decode(fields[3], padding: .forbidden),
              salt.count <= PasswordHashLimits.maxSaltBytes else {
            return .malformed(format, reason: "salt is not ab64")
        }
        guard let expected = Base64Codec.passlib.decode(fields[4], padding: .forbidden), expected.count == prf.digestLength else {
            return .malformed(format, reason: "hash is not ab64 of \(prf.digestLength) bytes")
        }
        return check(password: password, salt: salt, prf: prf, iterations: iterations, expected: expected, format: format)
    }

    /// Werkzeug `pbkdf2:sha256:iterations$salt$hex(hash)`; the salt is used as its UTF-8 text.
    static func verifyWerkzeug(password: [UInt8], hash: Substring) -> PasswordVerification {
        let format = PasswordHashFormat.werkzeugPBKDF2
        let fields = hash.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 3 else { return .malformed(format, reason: "expected pbkdf2:hash:iterations$salt$hex") }
        let method = fields[0].split(separator: ":", omittingEmptySubsequences: false)
        guard method.count == 3, method[0] == "pbkdf2" else {
            // Without an explicit count the default depends on the Werkzeug version that wrote it.
            return .malformed(format, reason: "expected pbkdf2:<hash>:<iterations> (iteration count not stored)")
        }
        guard let prf = PBKDF2Derivation.PRF(hashlibName: method[1]) else {
            return .malformed(format, reason: "unsupported hash function")
        }
        guard let iterations = HashText.decimal(method[2]) else { return .malformed(format, reason: "bad iteration count") }
        guard !fields[1].isEmpty, fields[1].utf8.count <= PasswordHashLimits.maxSaltBytes else {
            return .malformed(format, reason: "bad salt")
        }
        guard fields[2].utf8.count == 2 * prf.digestLength, HashText.isLowerHex(fields[2]) else {
            return .malformed(format, reason: "hash is not \(2 * prf.digestLength) lower-case hex digits")
        }
        if let problem = PBKDF2Derivation.costProblem(iterations: iterations, outputLength: prf.digestLength, prf: prf) {
            return .malformed(format, reason: problem)
        }
        guard let derived = PBKDF2Derivation.derive(password: password, salt: Array(fields[1].utf8), prf: prf,
                                          iterations: iterations, outputLength: prf.digestLength) else {
            return .malformed(format, reason: "PBKDF2 failed")
        }
        // Werkzeug compares the hex text; so do we.
        return ConstantTime.equals(HashText.lowerHex(derived), Array(fields[2].utf8)) ? .match(format) : .mismatch(format)
    }

    /// Derives and compares in constant time; shared by the PBKDF2 formats.
    static func check(password: [UInt8], salt: [UInt8], prf: PBKDF2Derivation.PRF, iterations: Int,
                      expected: [UInt8], format: PasswordHashFormat) -> PasswordVerification {
        if let problem = PBKDF2Derivation.costProblem(iterations: iterations, outputLength: expected.count, prf: prf) {
            return .malformed(format, reason: problem)
        }
        guard let derived = PBKDF2Derivation.derive(password: password, salt: salt, prf: prf,
                                          iterations: iterations, outputLength: expected.count) else {
            return .malformed(format, reason: "PBKDF2 failed")
        }
        return ConstantTime.equals(derived, expected) ? .match(format) : .mismatch(format)
    }
}
