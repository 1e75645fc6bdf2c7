// A short guess at what an unrecognised stored hash is, for the operator's log line.
//
// The guess never repeats the stored value itself (it may be a plain-text password); at most it
// quotes a short scheme identifier made of safe characters.

enum UnrecognisedHashGuess {
    static func describe(_ hash: Substring) -> String {
        if hash.isEmpty { return "empty" }
        let bytes = Array(hash.utf8)
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return "binary data (control characters)" }

        if hash.hasPrefix("$") {
            let id = hash.dropFirst().prefix { $0 != "$" && $0 != "," }
            switch id {
            case "sha1": return "NetBSD sha1crypt (unsupported)"
            case "md5": return "Sun MD5 crypt (unsupported)"
            case "3": return "NT hash via crypt $3$ (unsupported)"
            case "gy": return "GOST yescrypt $gy$ (unsupported)"
            case "2": return "original bcrypt $2$ (unsupported)"
            case "bcrypt-sha256": return "passlib bcrypt-sha256 (unsupported)"
            case "scrypt": return "passlib scrypt (unsupported)"
            case "wp": return "WordPress $wp$ without a bcrypt string"
            default: return "unknown $\(safeIdentifier(id))$ crypt scheme"
            }
        }
        if hash.hasPrefix("{"), let close = hash.firstIndex(of: "}") {
            let scheme = hash[hash.index(after: hash.startIndex)..<close]
            switch scheme {
            case "noop": return "Spring {noop}: plain text (refused)"
            case "CLEARTEXT", "cleartext": return "LDAP {CLEARTEXT}: plain text (refused)"
            case "pbkdf2", "pbkdf2@SpringSecurity_v5_8", "scrypt", "scrypt@SpringSecurity_v5_8", "sha256",
                 "SHA-1", "SHA-256", "MD4", "ldap":
                return "Spring {\(scheme)} encoder (unsupported)"
            case "CRYPT", "crypt":
                return "{CRYPT} around an unsupported crypt(3) hash"
            default:
                return "unsupported {\(safeIdentifier(scheme))} scheme"
            }
        }
        if let dollar = hash.firstIndex(of: "$") {
            let prefix = hash[..<dollar]
            if ["sha1", "md5", "unsalted_md5", "unsalted_sha1", "crypt"].contains(prefix) {
                return "Django legacy \(prefix) hash (unsupported)"
            }
            if !prefix.isEmpty, prefix.utf8.count <= 24, prefix.allSatisfy(isIdentifierCharacter) {
                // Not quoted: it could be the start of a plain-text password.
                return "unknown 'name$…' scheme"
            }
        }
        if bytes.count == 41, bytes[0] == UInt8(ascii: "*"), HashText.isHex(hash.dropFirst()) {
            return "MySQL PASSWORD() hash (unsalted double SHA-1)"
        }
        if HashText.isHex(hash) {
            switch bytes.count {
            case 32: return "hex digest (unsalted MD5?)"
            case 40: return "hex digest (unsalted SHA-1?)"
            case 56: return "hex digest (unsalted SHA-224?)"
            case 64: return "hex digest (unsalted SHA-256?)"
            case 96: return "hex digest (unsalted SHA-384?)"
            case 128: return "hex digest (unsalted SHA-512?)"
            default: if bytes.count >= 16 { return "hex string (\(bytes.count) digits)" }
            }
        }
        if bytes.count == 13, CryptBase64.isCryptText(hash) { return "traditional DES crypt? (unsupported)" }
        if bytes.count == 20, hash.hasPrefix("_"), CryptBase64.isCryptText(hash.dropFirst()) {
            return "BSDi extended DES crypt? (unsupported)"
        }
        if bytes.count >= 16, bytes.count % 4 == 0, Base64Codec.standard.decode(hash, padding: .required) != nil {
            return "base64 data (\(bytes.count) characters, unknown layout)"
        }
        if bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }), bytes.count < 60 { return "plain text?" }
        return "unknown (\(bytes.count) bytes)"
    }

    private static func isIdentifierCharacter(_ char: Character) -> Bool {
        char.isASCII && (char.isLetter || char.isNumber || char == "_" || char == "-" || char == ":")
    }

    /// The identifier if it is short and made of safe characters, else "?". Kept to 8 characters
    /// so that a plain-text password shaped like `$word$` or `{word}` is not echoed in full.
    private static func safeIdentifier(_ text: Substring) -> String {
        guard !text.isEmpty, text.utf8.count <= 8, text.allSatisfy(isIdentifierCharacter) else { return "?" }
        return String(text)
    }
}
