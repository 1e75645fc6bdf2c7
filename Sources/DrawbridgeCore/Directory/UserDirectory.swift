/// Read-only access to the platform's users.
public protocol UserDirectory: Sendable {
    /// Finds the user a typed user name refers to, matching the configured `login_by` fields case-insensitively.
    /// Returns nil when nobody matches, and throws `DirectoryError.ambiguous` when two different users do.
    func user(matching typedName: String) async throws -> PlatformUser?

    /// The user with this platform id, as it is now (for tokens and sessions issued earlier). `login` is the
    /// login last seen for them: with only a lookup query configured, the user is found by it and the id checked.
    func user(id: String, login: String) async throws -> PlatformUser?

    /// Every user, for census and sync; throws `DirectoryError.listingUnavailable` when only a lookup query is configured.
    func allUsers() async throws -> [PlatformUser]

    /// A page of users in a stable order, after the id `cursor` (nil: from the start), for sync over any number of users.
    func users(after cursor: String?, limit: Int) async throws -> [PlatformUser]

    /// How many users `users(after:limit:)` will walk through, for progress.
    func userCount() async throws -> Int

    /// Whether the platform database answers, for `/readyz`.
    func ping() async throws
}

public enum DirectoryError: Error, Sendable, CustomStringConvertible {
    case ambiguous(typedName: String, userIDs: [String])
    case listingUnavailable
    case unexpectedColumn(index: Int, field: String, found: String)
    case unreadableValue(field: String)

    public var description: String {
        switch self {
        case .ambiguous(_, let ids):
            "the typed name matches several platform users (ids \(ids.joined(separator: ", "))); sign-in refused"
        case .listingUnavailable:
            "listing users needs directory.table or directory.list_query (a lookup_query only finds one user)"
        case .unexpectedColumn(let index, let field, let found):
            "column \(index + 1) (\(field)) has type \(found), which Drawbridge cannot read as \(field)"
        case .unreadableValue(let field):
            "a row has an unreadable \(field) value"
        }
    }
}

extension UserDirectory {
    /// For small directories (tests): pages out of `allUsers()`, ordered by id as text.
    public func users(after cursor: String?, limit: Int) async throws -> [PlatformUser] {
        Array(try await allUsers().sorted { $0.id < $1.id }.filter { user in cursor.map { user.id > $0 } ?? true }.prefix(limit))
    }

    public func userCount() async throws -> Int { try await allUsers().count }
}
