// Recognising a stored hash's family from the string alone.

/// A recognised hash: its family and the part of the string that family's verifier reads
/// (wrapper prefixes such as `{bcrypt}`, `$wp`, `bcrypt_sha256$` or `{CRYPT}` removed).
struct RecognisedHash: Sendable {
    let format: PasswordHashFormat
    let payload: Substring
}

enum HashRecognizer {
    /// Characters trimmed from both ends of a stored hash: CHAR(n) columns pad with spaces and
    /// exported files end lines with CR/LF. No supported format contains any of them.
    /// (Trimmed by Unicode scalar: "\r\n" is a single Character.)
    static func trimmed(_ text: String) -> Substring {
        let isPad: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\0" }
        var scalars = Substring(text).unicodeScalars
        while let first = scalars.first, isPad(first) { scalars.removeFirst() }
        while let last = scalars.last, isPad(last) { scalars.removeLast() }
        return Substring(scalars)
    }

    /// Recognises `hash` (already trimmed); nil when unknown.
    static func recognise(_ hash: Substring, depth: Int = 0) -> RecognisedHash? {
        guard !hash.isEmpty, depth < 2 else { return nil }
        func found(_ format: PasswordHashFormat, dropping prefixLength: Int = 0) -> RecognisedHash {
            RecognisedHash(format: format, payload: hash.dropFirst(prefixLength))
        }

        if hash.hasPrefix("$") {
            for (prefix, format) in dollarPrefixes where hash.hasPrefix(prefix) {
                return found(format)
            }
            if hash.hasPrefix("$wp$") { return found(.wordpressBcrypt, dropping: 3) }
            return nil
        }
        if hash.hasPrefix("U$S$") || hash.hasPrefix("U$P$") || hash.hasPrefix("U$H$") {
            return found(.drupal7)
        }
        if hash.hasPrefix("{") {
            return recogniseScheme(hash, depth: depth)
        }
        for (prefix, format) in wordPrefixes where hash.hasPrefix(prefix) {
            // Django's argon2 and bcrypt hashers keep the library's string after their name.
            switch format {
            case .djangoArgon2: return found(format, dropping: "argon2".count)
            case .djangoBcryptSHA256: return found(format, dropping: "bcrypt_sha256$".count)
            case .djangoBcrypt: return found(format, dropping: "bcrypt$".count)
            default: return found(format)
            }
        }
        if let layout = AspNetIdentity.recogniseLayout(hash) {
            return found(layout)
        }
        return nil
    }

    /// Modular-crypt style prefixes (`$id$`).
    private static let dollarPrefixes: [(String, PasswordHashFormat)] = [
        ("$2a$", .bcrypt), ("$2b$", .bcrypt), ("$2y$", .bcrypt), ("$2x$", .bcrypt),
        ("$argon2id$", .argon2id), ("$argon2i$", .argon2i), ("$argon2d$", .argon2d),
        ("$pbkdf2-sha256$", .passlibPBKDF2SHA256), ("$pbkdf2-sha512$", .passlibPBKDF2SHA512),
        ("$pbkdf2$", .passlibPBKDF2SHA1),
        ("$6$", .sha512Crypt), ("$5$", .sha256Crypt), ("$1$", .md5Crypt),
        ("$y$", .yescrypt), ("$7$", .scryptCrypt),
        ("$P$", .phpass), ("$H$", .phpass), ("$S$", .drupal7),
    ]

    /// Django (`name$…`) and Werkzeug (`method:…`) prefixes.
    private static let wordPrefixes: [(String, PasswordHashFormat)] = [
        ("pbkdf2_sha256$", .djangoPBKDF2SHA256), ("pbkdf2_sha1$", .djangoPBKDF2SHA1),
        ("argon2$", .djangoArgon2), ("bcrypt_sha256$", .djangoBcryptSHA256), ("bcrypt$", .djangoBcrypt),
        ("scrypt$", .djangoScrypt),
        ("pbkdf2:", .werkzeugPBKDF2), ("scrypt:", .werkzeugScrypt),
    ]

    /// LDAP schemes (case-insensitive, as in OpenLDAP).
    static let ldapSchemes: [String: PasswordHashFormat] = [
        "SHA": .ldapSHA, "SSHA": .ldapSSHA, "SHA256": .ldapSHA256, "SSHA256": .ldapSSHA256,
        "SHA384": .ldapSHA384, "SSHA384": .ldapSSHA384, "SHA512": .ldapSHA512, "SSHA512": .ldapSSHA512,
    ]

    /// `{scheme}rest`: Spring Security's DelegatingPasswordEncoder ids (case-sensitive) and LDAP
    /// schemes (case-insensitive). `{CRYPT}` (OpenLDAP) and Spring's `{ldap}` wrap another hash.
    private static func recogniseScheme(_ hash: Substring, depth: Int) -> RecognisedHash? {
        guard let close = hash.firstIndex(of: "}") else { return nil }
        let scheme = hash[hash.index(after: hash.startIndex)..<close]
        let rest = hash[hash.index(after: close)...]
        switch scheme {
        case "bcrypt":
            return RecognisedHash(format: .springBcrypt, payload: rest)
        case "argon2", "argon2@SpringSecurity_v5_8":
            return RecognisedHash(format: .springArgon2, payload: rest)
        case "ldap":
            // Spring's LdapShaPasswordEncoder: `{ldap}{SSHA}…`.
            guard rest.hasPrefix("{") else { return nil }
            return recognise(rest, depth: depth + 1)
        case "sha256":
            // Spring's StandardPasswordEncoder (hex), not LDAP {SHA256}: unsupported.
            if HashText.isHex(rest) { return nil }
        default:
            break
        }
        let upper = scheme.uppercased()
        if upper == "CRYPT" {
            guard !rest.isEmpty, !rest.hasPrefix("{") else { return nil }
            return recognise(rest, depth: depth + 1)
        }
        if let format = ldapSchemes[upper] {
            return RecognisedHash(format: format, payload: rest)
        }
        return nil
    }
}
