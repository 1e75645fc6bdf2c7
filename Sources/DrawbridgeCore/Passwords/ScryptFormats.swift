// scrypt-based formats: Django `scrypt$…` and Werkzeug `scrypt:…` (libxcrypt's `$7$` is in
// CryptVerifier).

import Crypto
import _CryptoExtras

enum ScryptFormats {
    /// Both Django and Werkzeug derive 64 bytes (hashlib.scrypt's default dklen).
    static let derivedLength = 64

    /// Why (N, r, p) is refused, or nil when scrypt may run with it.
    static func costProblem(n: Int, r: Int, p: Int) -> String? {
        guard n >= 2, n & (n - 1) == 0 else { return "N must be a power of two ≥ 2" }
        guard r >= 1, p >= 1, r <= 1 << 20, p <= PasswordHashLimits.maxParallelism else {
            return "r or p out of range"
        }
        // n ≤ 2^30, r ≤ 2^20: 128·n·r ≤ 2^57 cannot overflow; memory ≤ 2^30 before × p.
        guard n <= 1 << 30 else { return "N out of range" }
        let memory = 128 * n * r
        guard memory <= PasswordHashLimits.maxMemoryBytes else {
            return "needs \(memory >> 20) MiB, above the cap of \(PasswordHashLimits.maxMemoryBytes >> 20) MiB"
        }
        guard memory * p <= PasswordHashLimits.maxMemoryWorkBytes else { return "work (128·N·r·p) above the cap" }
        return nil
    }

    static func derive(password: [UInt8], salt: [UInt8], n: Int, r: Int, p: Int) -> [UInt8]? {
        guard costProblem(n: n, r: r, p: p) == nil else { return nil }
        guard let key = try? KDF.Scrypt.deriveKey(
            from: password, salt: salt, outputByteCount: derivedLength, rounds: n, blockSize: r, parallelism: p)
        else { return nil }
        return key.withUnsafeBytes { Array($0) }
    }

    /// Django `scrypt$N$salt$r$p$base64(hash)`; the salt is used as its UTF-8 text.
    static func verifyDjango(password: [UInt8], hash: Substring) -> PasswordVerification {
        let format = PasswordHashFormat.djangoScrypt
        let fields = hash.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 6 else { return .malformed(format, reason: "expected scrypt$N$salt$r$p$hash") }
        guard let n = HashText.decimal(fields[1]), let r = HashText.decimal(fields[3]), let p = HashText.decimal(fields[4]) else {
            return .malformed(format, reason: "bad N, r or p")
        }
        guard !fields[2].isEmpty, fields[2].utf8.count <= PasswordHashLimits.maxSaltBytes else {
            return .malformed(format, reason: "bad salt")
        }
        guard let expected = Base64Codec.standard.decode(fields[5], padding: .required), expected.count == derivedLength else {
            return .malformed(format, reason: "hash is not base64 of \(derivedLength) bytes")
        }
        if let problem = costProblem(n: n, r: r, p: p) { return .malformed(format, reason: problem) }
        guard let derived = derive(password: password, salt: Array(fields[2].utf8), n: n, r: r, p: p) else {
            return .malformed(format, reason: "scrypt failed")
        }
        return ConstantTime.equals(derived, expected) ? .match(format) : .mismatch(format)
    }

    /// Werkzeug `scrypt:N:r:p$salt$hex(hash)`; the salt is used as its UTF-8 text.
    static func verifyWerkzeug(password: [UInt8], hash: Substring) -> PasswordVerification {
        let format = PasswordHashFormat.werkzeugScrypt
        let fields = hash.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 3 else { return .malformed(format, reason: "expected scrypt:N:r:p$salt$hex") }
        let method = fields[0].split(separator: ":", omittingEmptySubsequences: false)
        guard method.count == 4, method[0] == "scrypt",
              let n = HashText.decimal(method[1]), let r = HashText.decimal(method[2]), let p = HashText.decimal(method[3]) else {
            return .malformed(format, reason: "expected scrypt:<N>:<r>:<p>")
        }
        guard !fields[1].isEmpty, fields[1].utf8.count <= PasswordHashLimits.maxSaltBytes else {
            return .malformed(format, reason: "bad salt")
        }
        guard fields[2].utf8.count == 2 * derivedLength, HashText.isLowerHex(fields[2]) else {
            return .malformed(format, reason: "hash is not \(2 * derivedLength) lower-case hex digits")
        }
        if let problem = costProblem(n: n, r: r, p: p) { return .malformed(format, reason: problem) }
        guard let derived = derive(password: password, salt: Array(fields[1].utf8), n: n, r: r, p: p) else {
            return .malformed(format, reason: "scrypt failed")
        }
        return ConstantTime.equals(HashText.lowerHex(derived), Array(fields[2].utf8)) ? .match(format) : .mismatch(format)
    }
}
