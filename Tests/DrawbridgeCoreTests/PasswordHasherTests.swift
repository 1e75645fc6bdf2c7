import DrawbridgeCore
import Testing

@Suite("PasswordHasher")
struct PasswordHasherTests {
    let hasher = PasswordHasher()
    let verifier = PasswordHashVerifier()

    /// Each supported format with a cheap cost (nil = the default), to keep the run fast.
    static let cases: [(PasswordHashFormat, Int?)] = [
        (.bcrypt, 4), (.bcrypt, nil), (.sha512Crypt, nil), (.sha512Crypt, 1000), (.yescrypt, 1), (.yescrypt, nil),
        (.argon2id, 1), (.djangoPBKDF2SHA256, 1000),
    ]

    @Test("hash, then verify: right password matches, wrong one does not", arguments: cases)
    func roundTrip(_ format: PasswordHashFormat, _ cost: Int?) throws {
        for password in ["correct horse battery staple", "Pässwörd-ünicode-✓", ""] {
            let hash = try hasher.hash(password, format: format, cost: cost)
            #expect(verifier.identify(hash) == format)
            #expect(verifier.verify(password: password, against: hash) == .match(format))
            #expect(verifier.verify(password: password + "x", against: hash) == .mismatch(format))
        }
    }

    @Test("Salts are fresh: the same password hashes differently each time", arguments: PasswordHasher.supportedFormats)
    func freshSalts(_ format: PasswordHashFormat) throws {
        let cost: Int? = switch format {
        case .bcrypt: 4
        case .argon2id: 1
        case .djangoPBKDF2SHA256: 1000
        default: nil
        }
        let first = try hasher.hash("same", format: format, cost: cost)
        let second = try hasher.hash("same", format: format, cost: cost)
        #expect(first != second)
    }

    @Test("Defaults and costs are written into the hash")
    func costsAreVisible() throws {
        #expect(try hasher.hash("x", format: .bcrypt).hasPrefix("$2b$10$"))
        #expect(try hasher.hash("x", format: .bcrypt, cost: 5).hasPrefix("$2b$05$"))
        #expect(try hasher.hash("x", format: .sha512Crypt, cost: 6000).hasPrefix("$6$rounds=6000$"))
        #expect(try hasher.hash("x", format: .yescrypt).hasPrefix("$y$j9T$"))
        #expect(try hasher.hash("x", format: .argon2id, cost: 1).hasPrefix("$argon2id$v=19$m=65536,t=1,p=4$"))
        #expect(try hasher.hash("x", format: .djangoPBKDF2SHA256, cost: 1000).hasPrefix("pbkdf2_sha256$1000$"))
    }

    @Test("Unsupported formats and bad costs throw PasswordHashingError")
    func refusals() {
        for format in PasswordHashFormat.allCases where !PasswordHasher.supportedFormats.contains(format) {
            #expect(throws: PasswordHashingError.self) { try hasher.hash("x", format: format) }
        }
        #expect(throws: PasswordHashingError.self) { try hasher.hash("x", format: .bcrypt, cost: 3) }
        #expect(throws: PasswordHashingError.self) { try hasher.hash("x", format: .bcrypt, cost: 17) }
        #expect(throws: PasswordHashingError.self) { try hasher.hash("x", format: .sha512Crypt, cost: 10) }
        #expect(throws: PasswordHashingError.self) { try hasher.hash("x", format: .yescrypt, cost: 12) }
        #expect(throws: PasswordHashingError.self) { try hasher.hash("x", format: .argon2id, cost: 0) }
        #expect(throws: PasswordHashingError.self) { try hasher.hash("x", format: .djangoPBKDF2SHA256, cost: 0) }
        #expect(throws: PasswordHashingError.self) { try hasher.hash("a\0b", format: .sha512Crypt) }
        do {
            _ = try hasher.hash("x", format: .phpass)
            Issue.record("phpass should not be supported for new hashes")
        } catch let error as PasswordHashingError {
            #expect(error.format == .phpass)
            #expect(error.description.contains("phpass"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
