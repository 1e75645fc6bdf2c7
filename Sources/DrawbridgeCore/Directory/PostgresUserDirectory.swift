import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The platform's user table over a pooled, read-only PostgresNIO client.
public struct PostgresUserDirectory: UserDirectory {
    let client: PostgresClient
    let queries: DirectoryQueries
    var settings: DirectorySettings { queries.settings }
    let logger: Logger
    /// PostgresClient waits indefinitely for a server that is down; a sign-in must not.
    let lookupTimeout: Duration
    private let idType = IDTypeCache()

    /// `client` should come from `settings.url.clientConfiguration(readOnly: true)`, so even a careless
    /// `lookup_query` cannot write to the platform's database.
    public init(client: PostgresClient, settings: DirectorySettings, logger: Logger, lookupTimeout: Duration = .seconds(5)) {
        self.client = client
        self.queries = DirectoryQueries(settings: settings)
        self.logger = logger
        self.lookupTimeout = lookupTimeout
    }

    public func user(matching typedName: String) async throws -> PlatformUser? {
        let trimmed = typedName.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 320 else { return nil }
        return try await withTimeout(lookupTimeout) { try await lookup(trimmed) }
    }

    private func lookup(_ trimmed: String) async throws -> PlatformUser? {
        let rows = try await client.query(queries.lookup(trimmed), logger: logger)
        var best: [(user: PlatformUser, rank: Int)] = []
        for try await row in rows {
            let cells = Array(row)
            // Table mode adds a seventh column: which login_by field matched (0 = most preferred).
            let rank = cells.count > 6 ? ((try? cells[6].decode(Int.self)) ?? 0) : 0
            best.append((try PlatformUserRowDecoder.decode(row), rank))
        }
        guard let topRank = best.map(\.rank).min() else { return nil }
        let top = best.filter { $0.rank == topRank }
        let distinct = Set(top.map(\.user.id))
        if distinct.count > 1 {
            throw DirectoryError.ambiguous(typedName: trimmed, userIDs: distinct.sorted())
        }
        return top.first?.user
    }

    public func user(id: String, login: String) async throws -> PlatformUser? {
        try await withTimeout(lookupTimeout) {
            guard let idType = try await idColumnType(), let query = queries.byID(id, idType: idType) else {
                // Lookup-query mode: find by the last known login, and only accept the same person.
                let candidate = try await lookup(login)
                return candidate?.id == id ? candidate : nil
            }
            guard DirectoryQueries.canBe(id, idType: idType) else { return nil }
            for try await row in try await client.query(query, logger: logger) {
                return try PlatformUserRowDecoder.decode(row)
            }
            return nil
        }
    }

    /// Resolved once: the id column's type never changes under a running gateway.
    private func idColumnType() async throws -> String? {
        if let known = idType.withLock({ $0 }) { return known }
        guard let query = queries.idTypeQuery() else { return nil }
        for try await type in try await client.query(query, logger: logger).decode(String.self) {
            idType.withLock { $0 = type }
            return type
        }
        return nil
    }

    public func allUsers() async throws -> [PlatformUser] {
        guard let query = queries.list() else { throw DirectoryError.listingUnavailable }
        var users: [PlatformUser] = []
        for try await row in try await client.query(query, logger: logger) {
            users.append(try PlatformUserRowDecoder.decode(row))
        }
        return users
    }

    public func users(after cursor: String?, limit: Int) async throws -> [PlatformUser] {
        let idType = settings.listQuery == nil ? try await idColumnType() : nil
        guard let query = queries.page(after: cursor, limit: limit, idType: idType) else { throw DirectoryError.listingUnavailable }
        var users: [PlatformUser] = []
        for try await row in try await client.query(query, logger: logger) {
            users.append(try PlatformUserRowDecoder.decode(row))
        }
        return users
    }

    public func userCount() async throws -> Int {
        guard let query = queries.count() else { throw DirectoryError.listingUnavailable }
        for try await count in try await client.query(query, logger: logger).decode(Int.self) { return count }
        return 0
    }

    public func ping() async throws {
        try await withTimeout(lookupTimeout) { _ = try await client.query("SELECT 1", logger: logger).collect() }
    }
}

/// Holds the id column's type once known (a class, so the directory stays a cheap value type).
final class IDTypeCache: Sendable {
    private let value = Mutex<String?>(nil)

    func withLock<T>(_ body: (inout String?) -> T) -> T { value.withLock { body(&$0) } }
}
