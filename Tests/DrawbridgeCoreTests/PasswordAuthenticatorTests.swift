import DrawbridgeCore
import Foundation
import Logging
import Synchronization
import Testing

/// A directory held in memory, standing in for the platform table in unit tests (the Postgres one is
/// covered by the integration tests).
struct InMemoryDirectory: UserDirectory {
    var users: [PlatformUser]

    func user(matching typedName: String) async throws -> PlatformUser? {
        users.first { $0.login.lowercased() == typedName.lowercased() || $0.email?.lowercased() == typedName.lowercased() }
    }

    func user(id: String, login: String) async throws -> PlatformUser? {
        users.first { $0.id == id }
    }

    func allUsers() async throws -> [PlatformUser] { users }
    func ping() async throws {}
}

/// Records every verification a sign-in costs, then lets the real verifier do it.
final class RecordingVerifier: PasswordVerifying {
    private let real = PasswordHashVerifier()
    private let outcomes = Mutex<[PasswordVerification]>([])

    func verify(password: String, against storedHash: String) -> PasswordVerification {
        let outcome = real.verify(password: password, against: storedHash)
        outcomes.withLock { $0.append(outcome) }
        return outcome
    }

    /// The formats of the verifications that computed a hash (a match or a mismatch: the ones that cost time),
    /// since the last call. Recognising a hash as unusable costs next to nothing and is left out.
    func takeHashings() -> [PasswordHashFormat] {
        outcomes.withLock { outcomes in
            defer { outcomes.removeAll() }
            return outcomes.compactMap { outcome in
                switch outcome {
                case .match(let format), .mismatch(let format): format
                case .unrecognised, .malformed: nil
                }
            }
        }
    }
}

/// A directory that counts its look-ups, to show what a sign-in did before it was refused.
final class CountingDirectory: UserDirectory {
    let directory: InMemoryDirectory
    let lookups = Atomic<Int>(0)

    init(_ directory: InMemoryDirectory) {
        self.directory = directory
    }

    func user(matching typedName: String) async throws -> PlatformUser? {
        lookups.add(1, ordering: .relaxed)
        return try await directory.user(matching: typedName)
    }

    func user(id: String, login: String) async throws -> PlatformUser? { try await directory.user(id: id, login: login) }
    func allUsers() async throws -> [PlatformUser] { try await directory.allUsers() }
    func ping() async throws {}
}

@Suite struct PasswordAuthenticatorTests {
    static let bcrypt = "$2y$10$za9F54npj9y30nwG9ICK3eKFKo4wOVzObku6XINls6UDyKosqI.Ha"
    /// yescrypt of the same password (libxcrypt's mkpasswd, from the third-party vectors).
    static let yescrypt = "$y$j9T$OUcOvT5rAcqbLAeynsHgR1$OJMDCGo2pApmciMTa6AlsI7zVg0b7RzBSNOk4mvB6j."
    /// The bcrypt hash above with an absurd cost (2^99): recognised as bcrypt, refused before any hashing.
    static let brokenBcrypt = "$2y$99$za9F54npj9y30nwG9ICK3eKFKo4wOVzObku6XINls6UDyKosqI.Ha"
    static let password = "correct horse battery staple"

    let directory = InMemoryDirectory(users: [
        PlatformUser(id: "1", login: "alice", email: "alice@example.com", name: "Alice", passwordHash: bcrypt, isActive: true),
        PlatformUser(id: "2", login: "frank", email: "frank@example.com", name: "Frank", passwordHash: bcrypt, isActive: false),
        PlatformUser(id: "3", login: "nohash", email: nil, name: nil, passwordHash: nil, isActive: true),
        PlatformUser(id: "4", login: "legacy", email: nil, name: nil, passwordHash: "hunter2", isActive: true),
        PlatformUser(id: "5", login: "broken", email: nil, name: nil, passwordHash: brokenBcrypt, isActive: true),
    ])

    /// A table of yescrypt hashes, unlike the bcrypt stand-in Drawbridge starts with: a failure verified
    /// against that default instead of a hash of the table's kind would show.
    static let yescryptDirectory = InMemoryDirectory(users: [
        PlatformUser(id: "11", login: "erin", email: "erin@example.com", name: "Erin", passwordHash: yescrypt, isActive: true),
        PlatformUser(id: "12", login: "fred", email: "fred@example.com", name: "Fred", passwordHash: yescrypt, isActive: false),
        PlatformUser(id: "13", login: "nohash", email: nil, name: nil, passwordHash: nil, isActive: true),
        PlatformUser(id: "14", login: "empty", email: nil, name: nil, passwordHash: "", isActive: true),
        PlatformUser(id: "15", login: "legacy", email: nil, name: nil, passwordHash: "hunter2", isActive: true),
        PlatformUser(id: "16", login: "broken", email: nil, name: nil, passwordHash: brokenBcrypt, isActive: true),
    ])

    @Test func resultsForEachKindOfUser() async throws {
        let pool = HashingPool(settings: HashingSettings(threads: 2, queueLimit: 4))
        let authenticator = try PasswordAuthenticator(directory: directory, pool: pool, logger: Logger(label: "test"))
        #expect(try await authenticator.authenticate(typedName: "ALICE@example.com", password: Self.password) == .success(directory.users[0]))
        #expect(try await authenticator.authenticate(typedName: "alice", password: "nope") == .failure(.wrongPassword))
        #expect(try await authenticator.authenticate(typedName: "frank", password: Self.password) == .failure(.inactive))
        #expect(try await authenticator.authenticate(typedName: "ghost", password: Self.password) == .failure(.unknownUser))
        #expect(try await authenticator.authenticate(typedName: "nohash", password: "") == .failure(.noPassword))
        #expect(try await authenticator.authenticate(typedName: "legacy", password: "hunter2") == .failure(.unusableHash))
        #expect(try await authenticator.authenticate(typedName: "broken", password: Self.password) == .failure(.unusableHash))
        try await pool.shutdown()
    }

    /// Whoever is typed, a sign-in costs one verification that computes a hash of the kind the table holds,
    /// as a real user's wrong password does: unknown, password-less, inactive and unusable-hash users are
    /// verified against a stand-in of that kind (inactive ones against their own hash), so neither response
    /// time nor hash-pool load tells them apart from real accounts.
    @Test(arguments: [
        ("ghost", AuthenticationFailure.unknownUser),
        ("nohash", .noPassword),
        ("empty", .noPassword),
        ("fred", .inactive),
        ("legacy", .unusableHash),
        ("broken", .unusableHash),
    ])
    func everyFailureCostsOneVerificationOfTheTablesKind(_ typedName: String, _ failure: AuthenticationFailure) async throws {
        let verifier = RecordingVerifier()
        let pool = HashingPool(settings: HashingSettings(threads: 1, queueLimit: 4))
        let authenticator = try PasswordAuthenticator(directory: Self.yescryptDirectory, pool: pool, logger: Logger(label: "test"), verifier: verifier)
        // What a real user's wrong password costs.
        #expect(try await authenticator.authenticate(typedName: "erin", password: "wrong") == .failure(.wrongPassword))
        #expect(verifier.takeHashings() == [.yescrypt])

        #expect(try await authenticator.authenticate(typedName: typedName, password: Self.password) == .failure(failure))
        #expect(verifier.takeHashings() == [.yescrypt], "\(typedName) must cost what erin costs")
        try await pool.shutdown()
    }

    /// Before any real hash has been verified there is no table hash to copy: the stand-in is then a bcrypt
    /// hash, still a full verification rather than none.
    @Test func aFailureBeforeAnyRealSignInStillCostsAVerification() async throws {
        let verifier = RecordingVerifier()
        let pool = HashingPool(settings: HashingSettings(threads: 1, queueLimit: 4))
        let authenticator = try PasswordAuthenticator(directory: directory, pool: pool, logger: Logger(label: "test"), verifier: verifier)
        #expect(try await authenticator.authenticate(typedName: "ghost", password: Self.password) == .failure(.unknownUser))
        #expect(verifier.takeHashings() == [.bcrypt])
        try await pool.shutdown()
    }

    /// At start-up `serve` copies a hash of the table's most common kind, so even the first unknown user after a
    /// restart costs what a real user of that table costs (yescrypt here, not the start-up bcrypt).
    @Test func theStandInIsOfTheTablesKindFromStartUp() async throws {
        let verifier = RecordingVerifier()
        let pool = HashingPool(settings: HashingSettings(threads: 1, queueLimit: 4))
        let authenticator = try PasswordAuthenticator(directory: Self.yescryptDirectory, pool: pool, logger: Logger(label: "test"), verifier: verifier)
        #expect(await authenticator.adoptStandInFromTable() == .yescrypt)
        #expect(verifier.takeHashings() == [.yescrypt], "the adopted hash was verified once, on the pool")
        #expect(try await authenticator.authenticate(typedName: "ghost", password: Self.password) == .failure(.unknownUser))
        #expect(verifier.takeHashings() == [.yescrypt])
        try await pool.shutdown()
    }

    /// An operator whose table holds a hash Drawbridge cannot use learns which user it is and what the hash
    /// looks like, and never the hash itself: it may be a plain-text password.
    @Test func anUnusableHashIsLoggedByUserAndFormatNeverByValue() async throws {
        let capture = LogCapture()
        let pool = HashingPool(settings: HashingSettings(threads: 1, queueLimit: 4))
        let authenticator = try PasswordAuthenticator(directory: directory, pool: pool, logger: capture.logger())
        _ = try await authenticator.authenticate(typedName: "legacy", password: "hunter2")
        _ = try await authenticator.authenticate(typedName: "broken", password: Self.password)
        try await pool.shutdown()

        let warnings = capture.records.filter { $0.level == .warning }
        #expect(warnings.count == 2)
        let plainText = try #require(warnings.first { $0.metadata["user_id"] == "4" })
        #expect(plainText.metadata["looks_like"] == "plain text?")
        let broken = try #require(warnings.first { $0.metadata["user_id"] == "5" })
        #expect(broken.metadata["format"] == "bcrypt")
        for record in capture.records {
            for secret in ["hunter2", Self.brokenBcrypt, "za9F54npj9y30nwG9ICK3e", Self.password] {
                #expect(!record.line.contains(secret), "the log shows \(secret.prefix(4))…: \(record.line)")
            }
        }
    }

    /// With every hash thread busy and no queue, a sign-in is turned away as overloaded at once, before it
    /// costs a directory look-up or a verification: the caller answers 503 with Retry-After.
    @Test func aFullHashPoolRefusesASignInBeforeAskingTheDirectory() async throws {
        let counting = CountingDirectory(directory)
        let verifier = RecordingVerifier()
        let pool = HashingPool(settings: HashingSettings(threads: 1, queueLimit: 0))
        let authenticator = try PasswordAuthenticator(directory: counting, pool: pool, logger: Logger(label: "test"), verifier: verifier)
        let release = DispatchSemaphore(value: 0)
        async let blocker: Void = pool.run { release.wait() }
        while pool.load < 1 { try await Task.sleep(for: .milliseconds(2)) }
        await #expect(throws: HashingPoolError.overloaded) {
            try await authenticator.authenticate(typedName: "alice", password: Self.password)
        }
        #expect(counting.lookups.load(ordering: .relaxed) == 0)
        #expect(verifier.takeHashings().isEmpty)
        release.signal()
        try await blocker
        // Once the pool has room again, the same sign-in goes through.
        #expect(try await authenticator.authenticate(typedName: "alice", password: Self.password) == .success(directory.users[0]))
        try await pool.shutdown()
    }
}
