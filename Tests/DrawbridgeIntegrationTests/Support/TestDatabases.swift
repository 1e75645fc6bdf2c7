import DrawbridgeCore
import Foundation
import Logging
import PostgresNIO
import Testing

/// A fresh pair of databases on the test cluster (`DRAWBRIDGE_TEST_DATABASE_URL`, a superuser URL set by
/// scripts/test.sh): one playing the platform, one for Drawbridge's own schema. Dropped by `drop()`.
struct TestDatabases: Sendable {
    let admin: PostgresURL
    let platformName: String
    let drawbridgeName: String

    static var adminURL: PostgresURL {
        get throws {
            guard let text = ProcessInfo.processInfo.environment["DRAWBRIDGE_TEST_DATABASE_URL"] else {
                throw TestSetupError("DRAWBRIDGE_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL")
            }
            return try PostgresURL(parsing: text)
        }
    }

    static func create() async throws -> TestDatabases {
        let admin = try adminURL
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let databases = TestDatabases(admin: admin, platformName: "platform_\(suffix)", drawbridgeName: "drawbridge_\(suffix)")
        try await databases.adminExecute("CREATE DATABASE \(databases.platformName)")
        try await databases.adminExecute("CREATE DATABASE \(databases.drawbridgeName)")
        return databases
    }

    /// A fresh pair of databases for `body`, dropped afterwards whether it threw or not.
    static func withFresh(_ body: (TestDatabases) async throws -> Void) async throws {
        let databases = try await create()
        do {
            try await body(databases)
        } catch {
            await databases.drop()
            throw error
        }
        await databases.drop()
    }

    var platformURL: PostgresURL { url(for: platformName) }
    var drawbridgeURL: PostgresURL { url(for: drawbridgeName) }

    func url(for database: String) -> PostgresURL {
        var url = admin
        url.database = database
        return url
    }

    func drop() async {
        try? await adminExecute("DROP DATABASE IF EXISTS \(platformName) WITH (FORCE)")
        try? await adminExecute("DROP DATABASE IF EXISTS \(drawbridgeName) WITH (FORCE)")
    }

    /// One statement, outside any transaction (CREATE/DROP DATABASE refuse to run inside one).
    private func adminExecute(_ sql: String) async throws {
        let connection = try await PostgresConnection.connect(configuration: admin.connectionConfiguration(), id: 1, logger: Logger(label: "test"))
        defer { Task { try? await connection.close() } }
        do {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "test"))
        } catch {
            throw TestSetupError("\(sql): \(PostgresErrorText.describe(error))")
        }
    }

    /// Runs SQL (several statements allowed) on its own connection.
    static func execute(_ sql: String, on url: PostgresURL) async throws {
        let connection = try await PostgresConnection.connect(configuration: url.connectionConfiguration(), id: 1, logger: Logger(label: "test"))
        defer { Task { try? await connection.close() } }
        do {
            try await PostgresScript.run(sql, on: connection, logger: Logger(label: "test"))
        } catch {
            throw TestSetupError(PostgresErrorText.describe(error))
        }
    }

    /// The first column of each row, as text.
    static func strings(_ sql: String, on url: PostgresURL) async throws -> [String] {
        let connection = try await PostgresConnection.connect(configuration: url.connectionConfiguration(), id: 1, logger: Logger(label: "test"))
        defer { Task { try? await connection.close() } }
        var result: [String] = []
        for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "test")).decode(String?.self) {
            result.append(value ?? "")
        }
        return result
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
