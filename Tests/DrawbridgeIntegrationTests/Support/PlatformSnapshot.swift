import DrawbridgeCore
import Testing

/// Drawbridge only ever reads the platform's database. These helpers prove it: a dump of everything the
/// platform database holds (every table's columns and rows, in every schema) is taken before a test's body
/// and compared after it.
extension TestDatabases {
    /// A fresh pair of databases with `platform` (SQL: the platform's tables and users) loaded, for `body`;
    /// afterwards the platform database must be exactly as `body` found it.
    static func withPlatform(
        _ platform: String = PlatformFixture.accountsTable,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: (TestDatabases) async throws -> Void
    ) async throws {
        try await withFresh { databases in
            try await execute(platform, on: databases.platformURL)
            try await databases.expectPlatformUnchanged(sourceLocation: sourceLocation) { try await body(databases) }
        }
    }

    /// Runs `body`, then expects the platform database to hold exactly what it held before. When `body`
    /// throws, its error is what the test reports.
    @discardableResult
    func expectPlatformUnchanged<Result>(
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () async throws -> Result
    ) async throws -> Result {
        let before = try await platformDump()
        let result = try await body()
        let after = try await platformDump()
        #expect(after == before, "the platform database changed", sourceLocation: sourceLocation)
        return result
    }

    /// One line per column of every table, then one per row (`schema.table: row`), sorted: readable when a
    /// comparison fails, and blind to nothing a statement could change in a table.
    func platformDump() async throws -> [String] {
        let userSchemas = "table_schema NOT IN ('pg_catalog', 'information_schema')"
        let columns = try await Self.strings(
            """
            SELECT format('%I.%I column %I %s null=%s default=%s', table_schema, table_name, column_name, data_type, is_nullable, column_default)
            FROM information_schema.columns WHERE \(userSchemas) ORDER BY 1
            """,
            on: platformURL
        )
        let tables = try await Self.strings(
            "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables WHERE \(userSchemas) AND table_type = 'BASE TABLE' ORDER BY 1",
            on: platformURL
        )
        var rows: [String] = []
        for table in tables {
            rows += try await Self.strings("SELECT '\(table): ' || t::text FROM \(table) t ORDER BY 1", on: platformURL)
        }
        return columns + rows
    }
}
