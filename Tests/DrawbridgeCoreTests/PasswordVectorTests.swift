import DrawbridgeCore
import Foundation
import Testing

/// One row of Fixtures/password-hashes.json (a copy of shared/testdata, made by third-party code).
struct PasswordVector: Codable, Sendable, CustomTestStringConvertible {
    let format: String
    let password: String
    let hash: String
    let note: String?
    let matches: Bool

    var testDescription: String { "\(format) \(matches ? "right" : "wrong") password \(password.debugDescription)" }
}

enum PasswordVectorFixture {
    private struct File: Codable {
        let vectors: [PasswordVector]
    }

    /// Loaded relative to this source file (no SwiftPM resources); empty if unreadable, which
    /// `fixtureIsComplete` reports.
    static let vectors: [PasswordVector] = {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()
            .appendingPathComponent("Fixtures/password-hashes.json")
        guard let data = try? Data(contentsOf: url),
              let file = try? JSONDecoder().decode(File.self, from: data) else { return [] }
        return file.vectors
    }()

    /// Each distinct hash once, with its right password.
    static let rightPasswordVectors: [PasswordVector] = vectors.filter(\.matches)

    /// The fixture's `format` names (not Drawbridge identifiers) → our families.
    static let expectedFormat: [String: PasswordHashFormat] = [
        "bcrypt-2b": .bcrypt, "bcrypt-2a": .bcrypt, "bcrypt-2y": .bcrypt,
        "argon2id": .argon2id, "argon2i": .argon2i, "argon2d": .argon2d,
        "django-pbkdf2_sha256": .djangoPBKDF2SHA256, "django-pbkdf2_sha1": .djangoPBKDF2SHA1,
        "django-argon2": .djangoArgon2, "django-bcrypt_sha256": .djangoBcryptSHA256, "django-scrypt": .djangoScrypt,
        "passlib-pbkdf2-sha256": .passlibPBKDF2SHA256, "passlib-pbkdf2-sha512": .passlibPBKDF2SHA512,
        "passlib-pbkdf2-sha1": .passlibPBKDF2SHA1,
        "sha512-crypt": .sha512Crypt, "sha256-crypt": .sha256Crypt, "md5-crypt": .md5Crypt,
        "yescrypt": .yescrypt, "scrypt-crypt": .scryptCrypt,
        "phpass": .phpass, "wordpress-6.8": .wordpressBcrypt, "drupal7": .drupal7,
        "werkzeug-pbkdf2": .werkzeugPBKDF2, "werkzeug-scrypt": .werkzeugScrypt,
        "aspnet-identity-v2": .aspNetIdentityV2, "aspnet-identity-v3": .aspNetIdentityV3,
        "aspnet-identity-v3-sha512": .aspNetIdentityV3,
        "spring-bcrypt": .springBcrypt, "spring-argon2": .springArgon2,
        "ldap-sha": .ldapSHA, "ldap-ssha": .ldapSSHA, "ldap-ssha256": .ldapSSHA256, "ldap-ssha512": .ldapSSHA512,
    ]

    /// Extra hashes for variants the shared fixture lacks, made here by third-party code:
    /// passlib 1.7.4, argon2-cffi 25.1, Werkzeug (pip), and libxcrypt 4.4.33 (`crypt_r`).
    static let extraVectors: [PasswordVector] = [
        ("passlib-pbkdf2-sha1", "$pbkdf2$131000$UgoBIMS4l7KWslYKISQEgA$qeDNMcIqxx/A5dtc6812NnxC5ZA"),
        ("ldap-sha", "{SHA}q/eq1kOINtvlJqojGr3i0O73TUI="),
        ("ldap-ssha256", "{SSHA256}8mmRrvwArkbmWstuLbgfYiNr1VJp/cyCTFDFp0aBBfrA+F/r3TvHeA=="),
        ("ldap-ssha512", "{SSHA512}tqS99A1CeuGQJQk36d1iL5P6r+EsYcPalhWOuUrFL936K4/M+Q7AKTEgXoZhch/P5hlvFiB39ronh9Twz4yvqNTa29tby/k/"),
        ("phpass", "$H$Hh1Ye5aL.lMXUPpoHTJ5UwUCq3Vz7A/"),
        ("sha512-crypt", "$6$rounds=10000$B9OY8H5peUw0PaFY$dNMjQjL35bmHf5D/6rN3OCVaqVcvVnuL7n6RgZGZVdp3ZbvIWYrWq4sm672kUxWD/XZELwOInY84bTffLq6qg."),
        ("md5-crypt", "$1$L/9FDbAM$eRxa25SaanFmyRUPqXLvt1"),
        ("argon2d", "$argon2d$v=19$m=4096,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$eT5syteNCPKsFJ61iU5jbx0Q3uUe26TwISTgxnDlP7Q"),
        ("werkzeug-pbkdf2", "pbkdf2:sha512:1000$T5h3aEuLu7mLOq8s$cb6ecb48ea700913887f52e5986c4137be4fbf1f5456d207330cee71850912f9cff9d52cb8450fda4143ef0cdd937694b5dab1fe59a587f35d536078bb624096"),
        ("spring-argon2", "{argon2}$argon2i$v=19$m=8192,t=1,p=2$c29tZXNhbHRzb21lc2FsdA$FBVIhBwkvhMRq0N7cTwTAmdiOzzlcOBYbBc1YqeQc0Q"),
        ("scrypt-crypt", "$7$CU..../....4BrfDZmEDU5OUKT/nfBVW.$Cvu3jJRev5.2c6uw7oYL/db5nK6E3l.AQpYgBak0xQ3"),
        ("sha256-crypt", "$5$rounds=10000$n1HMUtdTSP8ENnhL$2Pm1JvFtwy7chBfe8uZD.J9vUetXmIfnco6dXSE.ol."),
    ].map { PasswordVector(format: $0.0, password: "correct horse battery staple", hash: $0.1, note: "extra", matches: true) }
        + [PasswordVector(format: "bcrypt-2x", password: "pw", hash: "$2x$05$3nJ/G0novK65e.jYjS5Gf.QdsDkd3W6KZwLb5Z4wlo0gmIXgl6.yK",
                          note: "libxcrypt $2x$ (legacy)", matches: true)]

    static func expected(_ vector: PasswordVector) -> PasswordHashFormat? {
        vector.format == "bcrypt-2x" ? .bcrypt : expectedFormat[vector.format]
    }
}

@Suite("Password hash vectors")
struct PasswordVectorTests {
    let verifier = PasswordHashVerifier()

    @Test("The fixture is there: 252 vectors, 28 formats, all of them known here")
    func fixtureIsComplete() {
        let vectors = PasswordVectorFixture.vectors
        #expect(vectors.count == 252)
        #expect(Set(vectors.map(\.format)).count == 28)
        for name in Set(vectors.map(\.format)) {
            #expect(PasswordVectorFixture.expectedFormat[name] != nil, "no mapping for \(name)")
        }
    }

    @Test("Every vector verifies as its `matches` says", arguments: PasswordVectorFixture.vectors)
    func vectorVerifies(_ vector: PasswordVector) throws {
        let format = try #require(PasswordVectorFixture.expected(vector))
        let result = verifier.verify(password: vector.password, against: vector.hash)
        #expect(result == (vector.matches ? .match(format) : .mismatch(format)))
    }

    @Test("identify names the family of every vector's hash", arguments: PasswordVectorFixture.rightPasswordVectors)
    func identifies(_ vector: PasswordVector) throws {
        let format = try #require(PasswordVectorFixture.expected(vector))
        #expect(verifier.identify(vector.hash) == format)
    }

    @Test("Extra variants (passlib, argon2-cffi, Werkzeug, libxcrypt) verify", arguments: PasswordVectorFixture.extraVectors)
    func extraVectorVerifies(_ vector: PasswordVector) throws {
        let format = try #require(PasswordVectorFixture.expected(vector))
        #expect(verifier.identify(vector.hash) == format)
        #expect(verifier.verify(password: vector.password, against: vector.hash) == .match(format))
        #expect(verifier.verify(password: vector.password + "x", against: vector.hash) == .mismatch(format))
        #expect(verifier.verify(password: String(vector.password.dropLast()), against: vector.hash) == .mismatch(format))
    }

    @Test("Wrappers: OpenLDAP {CRYPT}, Spring {ldap}, Drupal's upgraded U$P$ (passlib phpass over MD5 hex)")
    func wrappers() {
        let password = "correct horse battery staple"
        let sha512 = "$6$5pu33DklhhQ5wHhI$lHCH3yI0BG0Q8RQrQ0quECssO62QtSvHkRjD.TvdFtRfxaP51nFM0vv6FUaHajuIlo07tMAIbToCEYT4QOjgL1"
        #expect(verifier.verify(password: password, against: "{CRYPT}" + sha512) == .match(.sha512Crypt))
        #expect(verifier.verify(password: password, against: "{crypt}" + sha512) == .match(.sha512Crypt))
        #expect(verifier.verify(password: password + "x", against: "{CRYPT}" + sha512) == .mismatch(.sha512Crypt))
        #expect(verifier.verify(password: password, against: "{ldap}{SSHA}+lAQeHnl/fTeogt6NxHjjtKNim81BiDk") == .match(.ldapSSHA))
        #expect(verifier.verify(password: password, against: "U$P$8S.gQ0oc6z8e9Ky890uv34yWeV55LN1") == .match(.drupal7))
        #expect(verifier.verify(password: password + "x", against: "U$P$8S.gQ0oc6z8e9Ky890uv34yWeV55LN1") == .mismatch(.drupal7))
        #expect(verifier.identify("{CRYPT}{CRYPT}" + sha512) == nil)
        #expect(verifier.identify("{CRYPT}abJnggxhB/yWI") == nil)
    }

    @Test("Damaged hashes never match the right password", arguments: PasswordVectorFixture.rightPasswordVectors)
    func damagedHashesNeverMatch(_ vector: PasswordVector) {
        let hash = vector.hash
        let half = String(hash.prefix(hash.count / 2))
        let halfResult = verifier.verify(password: vector.password, against: half)
        #expect(halfResult.isUnrecognisedOrMalformed, "half hash gave \(halfResult)")

        var candidates = [String(hash.dropLast()), hash + "A", hash + "$", "x" + hash]
        // Change one character of the digest (5 from the end; never the base64 padding).
        var chars = Array(hash)
        let index = chars.count - 5
        chars[index] = chars[index] == "0" ? "1" : "0"
        candidates.append(String(chars))
        for candidate in candidates {
            let result = verifier.verify(password: vector.password, against: candidate)
            #expect(!result.isMatch, "\(candidate) matched")
        }
    }

    @Test("Surrounding whitespace (CHAR(n) padding, CR/LF) is ignored", arguments: PasswordVectorFixture.rightPasswordVectors.prefix(28))
    func paddedHashStillMatches(_ vector: PasswordVector) throws {
        let format = try #require(PasswordVectorFixture.expected(vector))
        #expect(verifier.verify(password: vector.password, against: "  " + vector.hash + "   \r\n") == .match(format))
    }

    @Test("The empty password and odd passwords are a plain mismatch", arguments: PasswordVectorFixture.rightPasswordVectors.prefix(28))
    func oddPasswordsMismatch(_ vector: PasswordVector) throws {
        let format = try #require(PasswordVectorFixture.expected(vector))
        for password in ["", "\0", vector.password + "\0", "\0" + vector.password, String(repeating: "x", count: 5000)] {
            #expect(verifier.verify(password: password, against: vector.hash) == .mismatch(format))
        }
    }
}

extension PasswordVerification {
    var isUnrecognisedOrMalformed: Bool {
        switch self {
        case .unrecognised, .malformed: true
        case .match, .mismatch: false
        }
    }
}

@Suite("Unknown, damaged and hostile hashes")
struct HostileHashTests {
    let verifier = PasswordHashVerifier()

    static let unrecognised: [String] = [
        "", "   ", "\r\n", "hunter2", "correct horse battery staple",
        "5f4dcc3b5aa765d61d8327deb882cf99", "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8",
        "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19", "abJnggxhB/yWI", "_J9..ctxFNMJDW0njqnQ",
        "$9$abc$def", "$sha1$242508$SfC90V/Uc7x/52BR0gpC$/ghInXcm33nDFz6bGUG4WaE3GlcE", "$3$$1b9d5effd34ac283c8efe2eacaea8bbc",
        "$gy$j9T$l.ZaK0061FKH4/OXg9DWL0$9N4SUkZH.3C.1fYUiwJp2NAWnPT1M9dfRUMqR/qHU70", "$2$05$abc",
        "{noop}password", "{CLEARTEXT}secret", "{MD5}X03MO1qnZdYdgyfeuILPmQ==", "{pbkdf2}deadbeef",
        "{sha256}0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "sha1$salt$5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", "unsalted_md5$$5f4dcc3b5aa765d61d8327deb882cf99",
        "\u{0}\u{1}\u{2}", "🔑🔑🔑", "{", "}", "$", "$$$$", "{}", "{CRYPT}", "{ldap}plain", "U$", "AAAA",
        "AgAAAAEAACcQAAAAELPkU8ecYJPeWlpOW2hapDZLdjyXEGAPNxNgRZjWYi0GPbjVZeqXEwQnVBzKlx7Kdw==",
        String(repeating: "A", count: 100_000), String(repeating: "$", count: 5000),
    ]

    @Test("Unknown strings are .unrecognised, never a match", arguments: unrecognised)
    func unknownIsUnrecognised(_ hash: String) {
        #expect(verifier.identify(hash) == nil)
        let result = verifier.verify(password: "password", against: hash)
        guard case .unrecognised(let looksLike) = result else {
            Issue.record("\(hash.prefix(40)) gave \(result)")
            return
        }
        #expect(!looksLike.isEmpty)
        #expect(!looksLike.contains("hunter2") && !looksLike.contains("password") && !looksLike.contains("secret"))
    }

    @Test("Guesses for the operator's log line")
    func guesses() {
        func guess(_ hash: String) -> String? {
            if case .unrecognised(let looksLike) = verifier.verify(password: "x", against: hash) { return looksLike }
            return nil
        }
        #expect(guess("") == "empty")
        #expect(guess("hunter2") == "plain text?")
        #expect(guess("$9$abc$def") == "unknown $9$ crypt scheme")
        #expect(guess("5f4dcc3b5aa765d61d8327deb882cf99") == "hex digest (unsalted MD5?)")
        #expect(guess("{noop}password")?.contains("plain text") == true)
        #expect(verifier.describeUnrecognised("hunter2") == "plain text?")
        #expect(verifier.describeUnrecognised("$1$lZTqDECO$D.EQs8EIDMhUmwFRHTIdq.") == nil)
    }

    /// Recognised family, but damaged or over a cost cap: `.malformed` with that family.
    static let malformed: [(String, PasswordHashFormat)] = [
        ("$2b$", .bcrypt), ("$2b$10$", .bcrypt), ("$2b$99$39X.NfnZA5/NEw1I1eHNPe7podoXZjcoV/00bFRd7IEqrHHkAyCe6", .bcrypt),
        ("$2b$31$39X.NfnZA5/NEw1I1eHNPe7podoXZjcoV/00bFRd7IEqrHHkAyCe6", .bcrypt),
        ("$2b$10$39X.NfnZA5/NEw1I1eHNPe7podoXZjcoV/00bFRd7IEqrHHkAyC!6", .bcrypt),
        ("$6$", .sha512Crypt), ("$6$rounds=999999999$salt$" + String(repeating: "a", count: 86), .sha512Crypt),
        ("$6$rounds=-5$salt$" + String(repeating: "a", count: 86), .sha512Crypt),
        ("$5$salt$short", .sha256Crypt), ("$1$toolongsalt$D.EQs8EIDMhUmwFRHTIdq.", .md5Crypt),
        ("$y$", .yescrypt), ("$y$jzT$OUcOvT5rAcqbLAeynsHgR1$OJMDCGo2pApmciMTa6AlsI7zVg0b7RzBSNOk4mvB6j.", .yescrypt),
        ("$7$", .scryptCrypt), ("$7$zU..../....4BrfDZmEDU5OUKT/nfBVW.$Cvu3jJRev5.2c6uw7oYL/db5nK6E3l.AQpYgBak0xQ3", .scryptCrypt),
        ("$argon2id$", .argon2id), ("$argon2i$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", .argon2i),
        ("$argon2id$v=19$m=4194304,t=3,p=4$ExsIpvOuMzNBS52PQUzNmQ$QUEEzf2/LY5W1J3hxtV0GTWiXqVwHixheLsAe5/SHGw", .argon2id),
        ("$argon2id$v=19$m=65536,t=1000,p=4$ExsIpvOuMzNBS52PQUzNmQ$QUEEzf2/LY5W1J3hxtV0GTWiXqVwHixheLsAe5/SHGw", .argon2id),
        ("$argon2id$v=19$m=65536,t=3,p=4294967295$ExsIpvOuMzNBS52PQUzNmQ$QUEEzf2/LY5W1J3hxtV0GTWiXqVwHixheLsAe5/SHGw", .argon2id),
        ("$argon2id$v=19$m=99999999999999999999,t=3,p=4$ExsIpvOuMzNBS52PQUzNmQ$QUEEzf2/LY5W1J3hxtV0GTWiXqVwHixheLsAe5/SHGw", .argon2id),
        ("$argon2d$v=42$m=65536,t=3,p=4$ExsIpvOuMzNBS52PQUzNmQ$QUEEzf2/LY5W1J3hxtV0GTWiXqVwHixheLsAe5/SHGw", .argon2d),
        ("pbkdf2_sha256$", .djangoPBKDF2SHA256),
        ("pbkdf2_sha256$100000000$mHzAhTVIOzSPkPfq8KIpSV$SZSN0tXn1JEgE4J7lzokIy3dVwfiegWnKDbTDj8epag=", .djangoPBKDF2SHA256),
        ("pbkdf2_sha256$0$mHzAhTVIOzSPkPfq8KIpSV$SZSN0tXn1JEgE4J7lzokIy3dVwfiegWnKDbTDj8epag=", .djangoPBKDF2SHA256),
        ("pbkdf2_sha256$-1$mHzAhTVIOzSPkPfq8KIpSV$SZSN0tXn1JEgE4J7lzokIy3dVwfiegWnKDbTDj8epag=", .djangoPBKDF2SHA256),
        ("pbkdf2_sha256$99999999999999999999999$salt$SZSN0tXn1JEgE4J7lzokIy3dVwfiegWnKDbTDj8epag=", .djangoPBKDF2SHA256),
        ("pbkdf2_sha256$1000$salt$SZSN0tXn1JEgE4J7lzokIy3dVwfiegWnKDbTDj8epah=", .djangoPBKDF2SHA256),
        ("pbkdf2_sha1$1000$salt$not base64", .djangoPBKDF2SHA1),
        ("scrypt$4194304$adRMxEBq4k1SZN0QNXLSo8$8$1$" + String(repeating: "A", count: 86) + "==", .djangoScrypt),
        ("scrypt$16384$salt$8$100000$" + String(repeating: "A", count: 86) + "==", .djangoScrypt),
        ("scrypt$1000$salt$8$1$" + String(repeating: "A", count: 86) + "==", .djangoScrypt),
        ("scrypt:1048576:64:1$salt$" + String(repeating: "0", count: 128), .werkzeugScrypt),
        ("scrypt:32768:8:1$salt$" + String(repeating: "0", count: 127), .werkzeugScrypt),
        ("pbkdf2:sha256$salt$" + String(repeating: "0", count: 64), .werkzeugPBKDF2),
        ("pbkdf2:whirlpool:1000$salt$" + String(repeating: "0", count: 64), .werkzeugPBKDF2),
        ("pbkdf2:sha256:1000$salt$" + String(repeating: "A", count: 64), .werkzeugPBKDF2),
        ("$pbkdf2-sha256$29000$lFJqTan1vpeyNsY4p1TqXQ$gAc4otgU3ND2szk+KchmyqPeEKN.LHCWQlhdv4Lxoxw", .passlibPBKDF2SHA256),
        ("$pbkdf2-sha512$4000000000$lFJqTan1vpeyNsY4p1TqXQ$" + String(repeating: "A", count: 86), .passlibPBKDF2SHA512),
        ("$P$", .phpass), ("$P$zbcdefgh" + String(repeating: "A", count: 22), .phpass),
        ("$P$Sbcdefgh" + String(repeating: "A", count: 22), .phpass), ("$H$H3hBmjGkSMXNh6XkSpP8ofkuIJG4oa", .phpass),
        ("$S$", .drupal7), ("U$S$AnY4y9g.QpLSlH4Lz8PsatqhfIdU4sftLQHyM5UtPK1fwsLK1N", .drupal7),
        ("$wp$", .wordpressBcrypt), ("$wp$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaA", .wordpressBcrypt),
        ("argon2$", .djangoArgon2), ("argon2$argon2id$v=19$m=102400,t=2,p=8$eGV5Mk$O8W/Oc4pz1pNaClrigSOgwFQdvVUdBXiQ0DxKRjvCC8", .djangoArgon2),
        ("bcrypt_sha256$", .djangoBcryptSHA256), ("bcrypt$$2b$", .djangoBcrypt),
        ("{bcrypt}", .springBcrypt), ("{bcrypt}{noop}x", .springBcrypt), ("{argon2}", .springArgon2),
        ("{SSHA}", .ldapSSHA), ("{SSHA}!!!!", .ldapSSHA), ("{ssha512}AAAA", .ldapSSHA512), ("{SHA}AAAA", .ldapSHA),
        ("AQAAAAEAACcQAAAAEA==", .aspNetIdentityV3),
        ("AQAAAAL/////AAAAELPkU8ecYJPeWlpOW2hapDZLdjyXEGAPNxNgRZjWYi0GPbjVZeqXEwQnVBzKlx7Kdw==", .aspNetIdentityV3),
        ("AQAAAAUAACcQAAAAELPkU8ecYJPeWlpOW2hapDZLdjyXEGAPNxNgRZjWYi0GPbjVZeqXEwQnVBzKlx7Kdw==", .aspNetIdentityV3),
        ("AQAAAAEAACcQ/////7PkU8ecYJPeWlpOW2hapDZLdjyXEGAPNxNgRZjWYi0GPbjVZeqXEwQnVBzKlx7Kdw==", .aspNetIdentityV3),
    ]

    @Test("Damaged or too costly hashes are .malformed, quickly", arguments: malformed)
    func malformedIsMalformed(_ hash: String, _ format: PasswordHashFormat) {
        let clock = ContinuousClock()
        let start = clock.now
        #expect(verifier.identify(hash) == format)
        let result = verifier.verify(password: "correct horse battery staple", against: hash)
        guard case .malformed(let reported, let reason) = result else {
            Issue.record("\(hash.prefix(60)) gave \(result)")
            return
        }
        #expect(reported == format)
        #expect(!reason.isEmpty)
        #expect(clock.now - start < .seconds(2), "cost caps must stop expensive work before it starts")
    }

    @Test("A hash longer than the stored-hash cap is refused without hashing")
    func overlongHash() {
        let hash = "pbkdf2_sha256$1000$" + String(repeating: "s", count: 2000) + "$SZSN0tXn1JEgE4J7lzokIy3dVwfiegWnKDbTDj8epag="
        #expect(verifier.verify(password: "x", against: hash) == .malformed(.djangoPBKDF2SHA256, reason: "longer than 1024 bytes"))
    }

    @Test("Random byte garbage never traps and never matches")
    func randomGarbage() {
        var generator = SystemRandomNumberGenerator()
        let prefixes = ["", "$2b$10$", "$argon2id$v=19$", "pbkdf2_sha256$", "{SSHA}", "$P$", "$S$", "$6$", "$y$", "$7$",
                        "scrypt$", "scrypt:", "pbkdf2:", "AQAAAA", "AA", "$wp$2y$", "{bcrypt}", "{CRYPT}$", "U$S$"]
        for index in 0..<600 {
            let length = Int.random(in: 0...80, using: &generator)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let tail = String(decoding: bytes, as: UTF8.self)
            let hash = prefixes[index % prefixes.count] + tail
            #expect(!verifier.verify(password: "correct horse battery staple", against: hash).isMatch)
        }
    }

    @Test("bcrypt reads only the first 72 bytes of the password, as PHP does")
    func bcryptTruncatesAt72Bytes() throws {
        let long = String(repeating: "é", count: 40)   // 80 UTF-8 bytes
        let hash = try PasswordHasher().hash(long, format: .bcrypt, cost: 4)
        let first72 = String(decoding: Array(long.utf8.prefix(72)), as: UTF8.self)
        #expect(verifier.verify(password: first72, against: hash) == .match(.bcrypt))
        #expect(verifier.verify(password: long + "anything", against: hash) == .match(.bcrypt))
        #expect(verifier.verify(password: String(long.prefix(35)), against: hash) == .mismatch(.bcrypt))
    }

    @Test("Format names are unique and readable")
    func formatNames() throws {
        #expect(Set(PasswordHashFormat.allCases.map(\.displayName)).count == PasswordHashFormat.allCases.count)
        #expect(Set(PasswordHashFormat.allCases.map(\.rawValue)).count == PasswordHashFormat.allCases.count)
        let data = try JSONEncoder().encode(PasswordHashFormat.allCases)
        #expect(try JSONDecoder().decode([PasswordHashFormat].self, from: data) == PasswordHashFormat.allCases)
        #expect(PasswordHashFormat.djangoPBKDF2SHA256.displayName == "Django PBKDF2-SHA256")
    }
}
