// Formats that store a plain bcrypt string behind a prefix, some over a pre-hashed password:
//   WordPress 6.8  `$wp$2y$…`         bcrypt(base64(HMAC-SHA384(key "wp-sha384", password)))
//   Django         `bcrypt_sha256$$2b$…`  bcrypt(hex(SHA-256(password)))
//   Django         `bcrypt$$2b$…`     bcrypt(password)
//   Spring         `{bcrypt}$2a$…`    bcrypt(password)

import Crypto

enum BcryptWrappers {
    /// `payload` is the bcrypt string with the wrapper prefix removed.
    static func verify(password: [UInt8], payload: Substring, format: PasswordHashFormat) -> PasswordVerification {
        guard payload.hasPrefix("$2"), HashRecognizer.recognise(payload)?.format == .bcrypt else {
            return .malformed(format, reason: "no bcrypt string after the prefix")
        }
        let secret: [UInt8]
        switch format {
        case .wordpressBcrypt:
            // wp_check_password (6.8): password_verify(base64_encode(hash_hmac('sha384', $password, 'wp-sha384', true)), substr($hash, 3))
            let key = SymmetricKey(data: Array("wp-sha384".utf8))
            let mac = HMAC<Crypto.SHA384>.authenticationCode(for: password, using: key)
            secret = Array(Base64Codec.standard.encode(Array(mac), pad: true).utf8)
        case .djangoBcryptSHA256:
            // Django: bcrypt over the lower-case hex of SHA-256 (64 characters, below bcrypt's 72).
            secret = HashText.lowerHex(Crypto.SHA256.hash(data: password))
        default:
            secret = password
        }
        return CryptVerifier.verify(password: secret, hash: payload, format: .bcrypt, reportAs: format)
    }
}
