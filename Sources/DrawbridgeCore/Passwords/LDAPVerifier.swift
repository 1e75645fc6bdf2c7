// LDAP userPassword schemes (RFC 2307 style, OpenLDAP, 389-ds):
//   {SHA}base64(SHA1(password))   {SSHA}base64(SHA1(password ‖ salt) ‖ salt)
// and the same with SHA-256/384/512 ({SHA256}, {SSHA256}, …).

import Crypto

enum LDAPVerifier {
    private enum Digest {
        case sha1, sha256, sha384, sha512

        var length: Int {
            switch self {
            case .sha1: 20
            case .sha256: 32
            case .sha384: 48
            case .sha512: 64
            }
        }

        func hash(_ parts: [UInt8]...) -> [UInt8] {
            switch self {
            case .sha1: run(Insecure.SHA1.self, parts)
            case .sha256: run(Crypto.SHA256.self, parts)
            case .sha384: run(Crypto.SHA384.self, parts)
            case .sha512: run(Crypto.SHA512.self, parts)
            }
        }

        private func run<H: HashFunction>(_: H.Type, _ parts: [[UInt8]]) -> [UInt8] {
            var hasher = H()
            for part in parts { hasher.update(data: part) }
            return Array(hasher.finalize())
        }
    }

    /// `payload` is the text after `{SCHEME}`.
    static func verify(password: [UInt8], payload: Substring, format: PasswordHashFormat) -> PasswordVerification {
        let digest: Digest
        let salted: Bool
        switch format {
        case .ldapSHA: (digest, salted) = (.sha1, false)
        case .ldapSSHA: (digest, salted) = (.sha1, true)
        case .ldapSHA256: (digest, salted) = (.sha256, false)
        case .ldapSSHA256: (digest, salted) = (.sha256, true)
        case .ldapSHA384: (digest, salted) = (.sha384, false)
        case .ldapSSHA384: (digest, salted) = (.sha384, true)
        case .ldapSHA512: (digest, salted) = (.sha512, false)
        case .ldapSSHA512: (digest, salted) = (.sha512, true)
        default: return .malformed(format, reason: "not an LDAP scheme")
        }
        guard let decoded = Base64Codec.standard.decode(payload, padding: .required) else {
            return .malformed(format, reason: "not base64")
        }
        if salted {
            guard decoded.count > digest.length, decoded.count - digest.length <= PasswordHashLimits.maxSaltBytes else {
                return .malformed(format, reason: "expected a \(digest.length)-byte digest followed by a salt")
            }
        } else {
            guard decoded.count == digest.length else {
                return .malformed(format, reason: "expected a \(digest.length)-byte digest")
            }
        }
        let expected = Array(decoded.prefix(digest.length))
        let salt = Array(decoded.dropFirst(digest.length))
        let computed = digest.hash(password, salt)
        return ConstantTime.equals(computed, expected) ? .match(format) : .mismatch(format)
    }
}
