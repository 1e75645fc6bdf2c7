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

@Suite struct PasswordAuthenticatorTests {
    static let bcrypt = "$2y$10$za9F54npj9y30nwG9ICK3eKFKo4wOVzObku6XINls6UDyKosqI.Ha"
    static let password = "correct horse battery staple"

    let directory = InMemoryDirectory(users: [
        PlatformUser(id: "1", login: "alice", email: "alice@example.com", name: "Alice", passwordHash: bcrypt, isActive: true),
        PlatformUser(id: "2", login: "frank", email: "frank@example.com", name: "Frank", passwordHash: bcrypt, isActive: false),
        PlatformUser(id: "3", login: "nohash", email: nil, name: nil, passwordHash: nil, isActive: true),
        PlatformUser(id: "4", login: "legacy", email: nil, name: nil, passwordHash: "hunter2", isActive: true),
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
        try await pool.shutdown()
    }

    /// With the only hash thread held busy and no queue, every sign-in that would verify a hash is turned
    /// away as overloaded: so unknown, password-less and unusable-hash users go through a verification too
    /// (against the stand-in hash), and cost what a real user costs.
    @Test(arguments: ["ghost", "nohash", "legacy", "frank", "alice"])
    func everyAttemptVerifiesAHash(_ typedName: String) async throws {
        let pool = HashingPool(settings: HashingSettings(threads: 1, queueLimit: 0))
        let authenticator = try PasswordAuthenticator(directory: directory, pool: pool, logger: Logger(label: "test"))
        let release = Mutex(false)
        async let blocker: Int = pool.run {
            while !release.withLock({ $0 }) { usleep(1000) }
            return 0
        }
        while pool.load < 1 { try await Task.sleep(for: .milliseconds(2)) }
        await #expect(throws: HashingPoolError.overloaded) {
            try await authenticator.authenticate(typedName: typedName, password: "whatever")
        }
        release.withLock { $0 = true }
        _ = try await blocker
        try await pool.shutdown()
    }
}
