// The families of stored password hashes Drawbridge recognises.

/// The family a stored hash belongs to, recognised from the string alone.
///
/// Raw values are stable identifiers (logs, config, JSON); `displayName` is for people.
public enum PasswordHashFormat: String, Sendable, CaseIterable, Codable {
    /// `$2a$`, `$2b$`, `$2y$` (PHP) and legacy `$2x$` (verified bug-compatibly by libxcrypt).
    /// Only the first 72 bytes of the password count, as in PHP and libxcrypt.
    case bcrypt
    /// PHC strings `$argon2id$v=19$m=…,t=…,p=…$salt$hash` (argon2-cffi, PHP, libsodium).
    case argon2id, argon2i, argon2d

    /// Django `pbkdf2_sha256$iterations$salt$base64`.
    case djangoPBKDF2SHA256 = "django-pbkdf2-sha256"
    /// Django `pbkdf2_sha1$iterations$salt$base64`.
    case djangoPBKDF2SHA1 = "django-pbkdf2-sha1"
    /// Django `argon2$argon2id$…` (a PHC string behind Django's prefix).
    case djangoArgon2 = "django-argon2"
    /// Django `bcrypt_sha256$$2b$…`: bcrypt over hex(SHA-256(password)).
    case djangoBcryptSHA256 = "django-bcrypt-sha256"
    /// Django `bcrypt$$2b$…`: plain bcrypt behind Django's prefix.
    case djangoBcrypt = "django-bcrypt"
    /// Django `scrypt$N$salt$r$p$base64`.
    case djangoScrypt = "django-scrypt"

    /// passlib `$pbkdf2-sha256$rounds$ab64salt$ab64hash`.
    case passlibPBKDF2SHA256 = "passlib-pbkdf2-sha256"
    /// passlib `$pbkdf2-sha512$…`.
    case passlibPBKDF2SHA512 = "passlib-pbkdf2-sha512"
    /// passlib `$pbkdf2$…` (PBKDF2-HMAC-SHA1).
    case passlibPBKDF2SHA1 = "passlib-pbkdf2-sha1"

    /// crypt(3) `$6$`.
    case sha512Crypt = "sha512-crypt"
    /// crypt(3) `$5$`.
    case sha256Crypt = "sha256-crypt"
    /// crypt(3) `$1$` (legacy, weak).
    case md5Crypt = "md5-crypt"
    /// crypt(3) `$y$` (Debian/Fedora default since 2021).
    case yescrypt
    /// crypt(3) `$7$` (scrypt in libxcrypt's encoding).
    case scryptCrypt = "scrypt-crypt"

    /// phpass portable hashes `$P$` (WordPress < 6.8) and `$H$` (phpBB 3).
    case phpass
    /// WordPress 6.8 `$wp$2y$…`: bcrypt over base64(HMAC-SHA384(key "wp-sha384", password)).
    case wordpressBcrypt = "wordpress-bcrypt"
    /// Drupal 7 `$S$` (iterated SHA-512), plus Drupal's upgraded `U$S$`/`U$P$` (over MD5(password)).
    case drupal7

    /// Werkzeug / Flask `pbkdf2:sha256:iterations$salt$hex`.
    case werkzeugPBKDF2 = "werkzeug-pbkdf2"
    /// Werkzeug / Flask `scrypt:N:r:p$salt$hex`.
    case werkzeugScrypt = "werkzeug-scrypt"

    /// ASP.NET Identity v2 (base64 of 0x00 ‖ salt16 ‖ PBKDF2-HMAC-SHA1 1000 rounds, 32 bytes).
    case aspNetIdentityV2 = "aspnet-identity-v2"
    /// ASP.NET Identity v3 (base64 of 0x01 ‖ prf ‖ iterations ‖ saltLength ‖ salt ‖ subkey).
    case aspNetIdentityV3 = "aspnet-identity-v3"

    /// Spring Security `{bcrypt}$2a$…`.
    case springBcrypt = "spring-bcrypt"
    /// Spring Security `{argon2}$argon2id$…`.
    case springArgon2 = "spring-argon2"

    /// LDAP `{SHA}` (unsalted SHA-1).
    case ldapSHA = "ldap-sha"
    /// LDAP `{SSHA}` (salted SHA-1).
    case ldapSSHA = "ldap-ssha"
    /// LDAP `{SHA256}`.
    case ldapSHA256 = "ldap-sha256"
    /// LDAP `{SSHA256}`.
    case ldapSSHA256 = "ldap-ssha256"
    /// LDAP `{SHA384}`.
    case ldapSHA384 = "ldap-sha384"
    /// LDAP `{SSHA384}`.
    case ldapSSHA384 = "ldap-ssha384"
    /// LDAP `{SHA512}`.
    case ldapSHA512 = "ldap-sha512"
    /// LDAP `{SSHA512}`.
    case ldapSSHA512 = "ldap-ssha512"

    /// Short human name for logs and the `check` census, e.g. "bcrypt", "Django PBKDF2-SHA256".
    public var displayName: String {
        switch self {
        case .bcrypt: "bcrypt"
        case .argon2id: "Argon2id"
        case .argon2i: "Argon2i"
        case .argon2d: "Argon2d"
        case .djangoPBKDF2SHA256: "Django PBKDF2-SHA256"
        case .djangoPBKDF2SHA1: "Django PBKDF2-SHA1"
        case .djangoArgon2: "Django Argon2"
        case .djangoBcryptSHA256: "Django bcrypt-SHA256"
        case .djangoBcrypt: "Django bcrypt"
        case .djangoScrypt: "Django scrypt"
        case .passlibPBKDF2SHA256: "passlib PBKDF2-SHA256"
        case .passlibPBKDF2SHA512: "passlib PBKDF2-SHA512"
        case .passlibPBKDF2SHA1: "passlib PBKDF2-SHA1"
        case .sha512Crypt: "SHA-512 crypt"
        case .sha256Crypt: "SHA-256 crypt"
        case .md5Crypt: "MD5 crypt"
        case .yescrypt: "yescrypt"
        case .scryptCrypt: "scrypt crypt ($7$)"
        case .phpass: "phpass"
        case .wordpressBcrypt: "WordPress bcrypt"
        case .drupal7: "Drupal 7"
        case .werkzeugPBKDF2: "Werkzeug PBKDF2"
        case .werkzeugScrypt: "Werkzeug scrypt"
        case .aspNetIdentityV2: "ASP.NET Identity v2"
        case .aspNetIdentityV3: "ASP.NET Identity v3"
        case .springBcrypt: "Spring bcrypt"
        case .springArgon2: "Spring Argon2"
        case .ldapSHA: "LDAP SHA"
        case .ldapSSHA: "LDAP SSHA"
        case .ldapSHA256: "LDAP SHA-256"
        case .ldapSSHA256: "LDAP SSHA-256"
        case .ldapSHA384: "LDAP SHA-384"
        case .ldapSSHA384: "LDAP SSHA-384"
        case .ldapSHA512: "LDAP SHA-512"
        case .ldapSSHA512: "LDAP SSHA-512"
        }
    }
}
