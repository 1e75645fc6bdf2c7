// phpass portable hashes ($P$ WordPress ≤ 6.7, $H$ phpBB 3) and Drupal 7 ($S$, U$…):
// iterated MD5 / SHA-512 with the crypt alphabet in little-endian order. No library does
// these, so they are written here, following phpass 0.5 `crypt_private` and Drupal 7's
// `_password_crypt` / `user_check_password`.

import Crypto

enum PHPassVerifier {
    /// Verifies `$P$`/`$H$` (format .phpass) or `$S$`, `U$S$`, `U$P$`, `U$H$` (format .drupal7).
    static func verify(password: [UInt8], hash: Substring, format: PasswordHashFormat) -> PasswordVerification {
        var stored = Array(hash.utf8)
        var secret = password
        if format == .drupal7, stored.first == UInt8(ascii: "U") {
            // Drupal's upgrade of imported unsalted MD5 hashes: the phpass/$S$ hash of md5(password) in hex.
            stored.removeFirst()
            secret = HashText.lowerHex(Insecure.MD5.hash(data: password))
        }
        guard stored.count >= 12, stored[0] == UInt8(ascii: "$"), stored[2] == UInt8(ascii: "$") else {
            return .malformed(format, reason: "expected $P$, $H$ or $S$ followed by cost and salt")
        }
        let useSHA512: Bool
        let expectedLength: Int
        switch stored[1] {
        case UInt8(ascii: "P"), UInt8(ascii: "H"):
            useSHA512 = false
            expectedLength = 12 + 22
        case UInt8(ascii: "S") where format == .drupal7:
            useSHA512 = true
            expectedLength = 55   // DRUPAL_HASH_LENGTH: 12 + 86 characters cut to 55
        default:
            return .malformed(format, reason: "unknown phpass variant")
        }
        guard stored.count == expectedLength else {
            return .malformed(format, reason: "expected \(expectedLength) characters, found \(stored.count)")
        }
        guard stored[3...].allSatisfy({ CryptBase64.value(of: $0) != nil }) else {
            return .malformed(format, reason: "characters outside the crypt alphabet")
        }
        guard let log2 = CryptBase64.value(of: stored[3]), (7...30).contains(log2) else {
            return .malformed(format, reason: "round count out of range")
        }
        guard log2 <= PasswordHashLimits.maxPHPassLog2Rounds else {
            return .malformed(format, reason: "2^\(log2) rounds above the cap of 2^\(PasswordHashLimits.maxPHPassLog2Rounds)")
        }
        let rounds = 1 << log2
        let digestLength = useSHA512 ? 64 : 16
        // Each round hashes the password again, so a long password against a costly hash is refused.
        guard secret.count <= 512 || format == .phpass,
              rounds * (digestLength + secret.count) <= PasswordHashLimits.maxPHPassHashedBytes else {
            return .mismatch(format)
        }
        let salt = Array(stored[4..<12])
        let digest = useSHA512
            ? iterate(Crypto.SHA512.self, salt: salt, password: secret, rounds: rounds)
            : iterate(Insecure.MD5.self, salt: salt, password: secret, rounds: rounds)
        let computed = Array(stored[0..<12]) + CryptBase64.phpassEncode(digest)
        let truncated = Array(computed.prefix(expectedLength))
        return ConstantTime.equals(truncated, stored) ? .match(format) : .mismatch(format)
    }

    /// hash = H(salt ‖ password); then `rounds` times hash = H(hash ‖ password).
    /// One buffer holds hash ‖ password, so the loop allocates nothing.
    private static func iterate<H: HashFunction>(_: H.Type, salt: [UInt8], password: [UInt8], rounds: Int) -> [UInt8] {
        var digest = H.hash(data: salt + password)
        var buffer = [UInt8](repeating: 0, count: H.Digest.byteCount + password.count)
        buffer.replaceSubrange(H.Digest.byteCount..., with: password)
        for _ in 0..<rounds {
            var index = 0
            for byte in digest {
                buffer[index] = byte
                index += 1
            }
            var hasher = H()
            buffer.withUnsafeBytes { hasher.update(bufferPointer: $0) }
            digest = hasher.finalize()
        }
        return Array(digest)
    }
}
