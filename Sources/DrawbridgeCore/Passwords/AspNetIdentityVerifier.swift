// ASP.NET Identity PasswordHasher (Microsoft.AspNetCore.Identity / Microsoft.AspNet.Identity):
// base64 of a binary record, layout as in PasswordHasher.cs.
//
//   v2: 0x00 ‖ salt (16) ‖ subkey (32)                 PBKDF2-HMAC-SHA1, 1 000 iterations
//   v3: 0x01 ‖ prf (u32 BE) ‖ iterations (u32 BE) ‖ saltLength (u32 BE) ‖ salt ‖ subkey
//       prf 0 = HMAC-SHA1, 1 = HMAC-SHA256 (Identity 3–6), 2 = HMAC-SHA512 (.NET 7+)

enum AspNetIdentity {
    /// Which layout a base64 string decodes to, if any (used by recognition).
    static func recogniseLayout(_ hash: Substring) -> PasswordHashFormat? {
        let length = hash.utf8.count
        guard length >= 20, length % 4 == 0, length <= PasswordHashLimits.maxStoredHashBytes,
              let bytes = Base64Codec.standard.decode(hash, padding: .required) else { return nil }
        if bytes.count == 49, bytes[0] == 0x00 { return .aspNetIdentityV2 }
        if bytes.count >= 13, bytes[0] == 0x01, bytes[1] == 0, bytes[2] == 0, bytes[3] == 0 { return .aspNetIdentityV3 }
        return nil
    }

    static func verify(password: [UInt8], hash: Substring, format: PasswordHashFormat) -> PasswordVerification {
        guard let bytes = Base64Codec.standard.decode(hash, padding: .required), let marker = bytes.first else {
            return .malformed(format, reason: "not base64")
        }
        switch (format, marker) {
        case (.aspNetIdentityV2, 0x00):
            guard bytes.count == 49 else { return .malformed(format, reason: "v2 record must be 49 bytes") }
            return PBKDF2Formats.check(password: password, salt: Array(bytes[1..<17]), prf: .sha1,
                                       iterations: 1000, expected: Array(bytes[17..<49]), format: format)
        case (.aspNetIdentityV3, 0x01):
            guard bytes.count >= 13 else { return .malformed(format, reason: "v3 record too short") }
            let prf: PBKDF2Derivation.PRF
            switch readUInt32(bytes, at: 1) {
            case 0: prf = .sha1
            case 1: prf = .sha256
            case 2: prf = .sha512
            default: return .malformed(format, reason: "unknown PRF")
            }
            let iterations = Int(readUInt32(bytes, at: 5))
            let saltLength = Int(readUInt32(bytes, at: 9))
            // Identity itself refuses salts and subkeys shorter than 128 bits.
            guard saltLength >= 16, saltLength <= PasswordHashLimits.maxSaltBytes,
                  bytes.count - 13 - saltLength >= 16 else {
                return .malformed(format, reason: "salt or subkey shorter than 16 bytes, or lengths inconsistent")
            }
            let salt = Array(bytes[13..<(13 + saltLength)])
            let subkey = Array(bytes[(13 + saltLength)...])
            return PBKDF2Formats.check(password: password, salt: salt, prf: prf, iterations: iterations,
                                       expected: subkey, format: format)
        default:
            return .malformed(format, reason: "unknown format marker")
        }
    }

    private static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (UInt32(bytes[offset]) << 24) | (UInt32(bytes[offset + 1]) << 16) | (UInt32(bytes[offset + 2]) << 8) | UInt32(bytes[offset + 3])
    }
}
