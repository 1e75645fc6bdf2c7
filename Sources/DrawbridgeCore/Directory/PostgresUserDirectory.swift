import Foundation
import Logging
import PostgresNIO

/// The platform's user table over a pooled, read-only PostgresNIO client.
public struct PostgresUserDirectory: UserDirectory {
    let client: PostgresClient
    let queries: DirectoryQueries
    let logger: Logger

    /// `client` should come from `settings.url.clientConfiguration(readOnly: true)`, so even a careless
    /// `lookup_query` cannot write to the platform's database.
    public init(client: PostgresClient, settings: DirectorySettings, logger: Logger) {
        self.client = client
        self.queries = DirectoryQueries(settings: settings)
        self.logger = logger
    }

    public func user(matching typedName: String) async throws -> PlatformUser? {
        let trimmed = typedName.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 320 else { return nil }
        let rows = try await client.query(queries.lookup(trimmed), logger: logger)
        var best: [(user: PlatformUser, rank: Int)] = []
        for try await row in rows {
            let user = try PlatformUserRowDecoder.decode(row)
            let rank = Array(row).count > 6 ? ((try? Array(row)[6].decode(Int.self)) ?? 0) : 0
            best.append((user, rank))
        }
        guard let topRank = best.map(\.rank).min() else { return nil }
        let top = best.filter { $0.rank == topRank }
        let distinct = Set(top.map(\.user.id))
        if distinct.count > 1 {
            throw DirectoryError.ambiguous(typedName: trimmed, userIDs: distinct.sorted())
        }
        return top.first?.user
    }

    public func allUsers() async throws -> [PlatformUser] {
        guard let query = queries.list() else { throw DirectoryError.listingUnavailable }
        var users: [PlatformUser] = []
        for try await row in try await client.query(query, logger: logger) {
            users.append(try PlatformUserRowDecoder.decode(row))
        }
        return users
    }

    public func ping() async throws {
        _ = try await client.query("SELECT 1", logger: logger).collect()
    }
}
