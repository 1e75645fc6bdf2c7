import Logging
import Metrics
import Synchronization

/// Checks a typed user name and password against the platform's table.
///
/// Every failure looks the same from outside (same result, same cost): an unknown user is verified
/// against a stand-in hash of the kind the table holds, so response time does not reveal who exists.
public struct PasswordAuthenticator: Sendable {
    let directory: any UserDirectory
    let pool: HashingPool
    let verifier: any PasswordVerifying
    let standIn: StandInHash
    let logger: Logger

    public init(directory: any UserDirectory, pool: HashingPool, logger: Logger, verifier: any PasswordVerifying = PasswordHashVerifier()) throws {
        self.directory = directory
        self.pool = pool
        self.verifier = verifier
        self.logger = logger
        self.standIn = try StandInHash()
    }

    /// - Throws: `HashingPoolError.overloaded` when the hash pool is full (answer 503), or a directory error.
    public func authenticate(typedName: String, password: String) async throws -> AuthenticationResult {
        if pool.isSaturated {
            Counter(label: "drawbridge_hash_pool_rejections_total").increment()
            throw HashingPoolError.overloaded
        }
        let user: PlatformUser?
        do {
            user = try await directory.user(matching: typedName)
        } catch let error as DirectoryError {
            if case .ambiguous(_, let ids) = error {
                logger.warning("sign-in refused: typed name matches several platform users", metadata: ["user_ids": "\(ids.joined(separator: ","))"])
            }
            _ = try await verify(password, against: standIn.current)
            return .failure(.ambiguous)
        }
        guard let user, let storedHash = user.passwordHash, !storedHash.isEmpty else {
            _ = try await verify(password, against: standIn.current)
            return .failure(user == nil ? .unknownUser : .noPassword)
        }
        let outcome = try await verify(password, against: storedHash)
        switch outcome {
        case .match:
            standIn.remember(storedHash)
            return user.isActive ? .success(user) : .failure(.inactive)
        case .mismatch:
            standIn.remember(storedHash)
            return .failure(.wrongPassword)
        case .unrecognised(let looksLike):
            logger.warning("stored password hash is in a format Drawbridge cannot verify", metadata: ["user_id": "\(user.id)", "looks_like": "\(looksLike)"])
            _ = try await verify(password, against: standIn.current)
            return .failure(.unusableHash)
        case .malformed(let format, let reason):
            logger.warning("stored password hash is malformed", metadata: ["user_id": "\(user.id)", "format": "\(format.displayName)", "reason": "\(reason)"])
            _ = try await verify(password, against: standIn.current)
            return .failure(.unusableHash)
        }
    }

    /// Until a real hash has been verified the stand-in is the bcrypt hash made at start-up, whatever the table
    /// holds: on an argon2 table, unknown users would answer faster than real ones until somebody signs in.
    /// `serve` calls this at start-up: the most common format among the first `sampleSize` users becomes the
    /// stand-in, once one of its hashes verified (as a mismatch) on the pool. With only a lookup query there is
    /// no table to read, and the first real sign-in sets the stand-in.
    /// - Returns: the format adopted, if any.
    @discardableResult
    public func adoptStandInFromTable(sampleSize: Int = 200) async -> PasswordHashFormat? {
        guard let users = try? await directory.users(after: nil, limit: sampleSize) else { return nil }
        let identifier = PasswordHashVerifier()
        var byFormat: [PasswordHashFormat: [String]] = [:]
        for user in users {
            guard let hash = user.passwordHash, !hash.isEmpty, let format = identifier.identify(hash) else { continue }
            byFormat[format, default: []].append(hash)
        }
        let probe = SecretToken().value
        for (_, hashes) in byFormat.sorted(by: { $0.value.count > $1.value.count }) {
            // A hash of a known format may still be malformed (cheap to reject): take the first one that really verifies.
            for hash in hashes.prefix(3) {
                if case .mismatch(let format) = try? await verify(probe, against: hash) {
                    standIn.remember(hash)
                    return format
                }
            }
        }
        return nil
    }

    private func verify(_ password: String, against storedHash: String) async throws(HashingPoolError) -> PasswordVerification {
        let verifier = self.verifier
        return try await pool.run { verifier.verify(password: password, against: storedHash) }
    }
}

public enum AuthenticationResult: Sendable, Equatable {
    case success(PlatformUser)
    case failure(AuthenticationFailure)
}

/// Why a sign-in failed: for logs and metrics only. Users always see one generic message.
public enum AuthenticationFailure: String, Sendable, Equatable {
    case unknownUser = "unknown_user"
    case wrongPassword = "wrong_password"
    case inactive
    case noPassword = "no_password"
    case unusableHash = "unusable_hash"
    case ambiguous
}

/// The hash verified in place of a missing one.
///
/// It is the most recent real hash Drawbridge verified (its result is thrown away), so it has the
/// same format and cost as the table's hashes even when they are slow argon2 or fast PBKDF2. It starts as a
/// bcrypt hash of cost 10, replaced at start-up by one of the table's own (`adoptStandInFromTable`).
final class StandInHash: Sendable {
    private let hash: Mutex<String>

    init() throws {
        var generator = SystemRandomNumberGenerator()
        let randomPassword = (0..<24).map { _ in String(UInt8.random(in: 97...122, using: &generator), radix: 36) }.joined()
        hash = Mutex(try PasswordHasher().hash(randomPassword, format: .bcrypt, cost: 10))
    }

    var current: String { hash.withLock { $0 } }

    func remember(_ storedHash: String) {
        hash.withLock { $0 = storedHash }
    }
}
