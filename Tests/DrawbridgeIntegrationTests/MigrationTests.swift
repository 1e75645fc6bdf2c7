import DrawbridgeCore
import Logging
import Testing

@Suite struct MigrationTests {
    func migrator(_ databases: TestDatabases, schema: String = "drawbridge") throws -> DatabaseMigrator {
        guard let directory = Migration.defaultDirectory() else { throw TestSetupError("migrations/ not found") }
        return DatabaseMigrator(url: databases.drawbridgeURL, schema: schema, migrations: try Migration.load(from: directory), logger: Logger(label: "test"))
    }

    @Test func replicasStartingTogetherApplyEachMigrationOnce() async throws {
        let databases = try await TestDatabases.create()
        defer { Task { await databases.drop() } }
        let migrator = try migrator(databases)
        let applied = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<4 { group.addTask { try await migrator.migrate().count } }
            return try await group.reduce(0, +)
        }
        #expect(applied == migrator.migrations.count)
        #expect(try await migrator.pending().isEmpty)
        #expect(try await migrator.migrate().isEmpty)
        let recorded = try await TestDatabases.strings("SELECT version::text FROM drawbridge.schema_migrations ORDER BY version::int", on: databases.drawbridgeURL)
        #expect(recorded == migrator.migrations.map { String($0.version) })
    }

    @Test func nothingIsCreatedOutsideDrawbridgesSchema() async throws {
        let databases = try await TestDatabases.create()
        defer { Task { await databases.drop() } }
        let publicBefore = try await TestDatabases.strings("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'", on: databases.drawbridgeURL)
        try await migrator(databases, schema: "sso_state").migrate()
        #expect(try await TestDatabases.strings("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'", on: databases.drawbridgeURL) == publicBefore)
        let ours = try await TestDatabases.strings("SELECT tablename::text FROM pg_tables WHERE schemaname = 'sso_state' ORDER BY 1", on: databases.drawbridgeURL)
        #expect(ours.contains("sessions"))
        #expect(ours.contains("schema_migrations"))
    }

    /// `pending()` serves `check`, `migrate --status` and `serve` without `--migrate`: it must not create the schema.
    @Test func pendingOnAnEmptyDatabaseListsEverythingAndCreatesNothing() async throws {
        let databases = try await TestDatabases.create()
        defer { Task { await databases.drop() } }
        let migrator = try migrator(databases)
        #expect(try await migrator.pending() == migrator.migrations)
        #expect(try await TestDatabases.strings("SELECT count(*)::text FROM pg_namespace WHERE nspname = 'drawbridge'", on: databases.drawbridgeURL) == ["0"])
        // A schema without the migrations table (made by hand, or by another tool) counts as nothing applied too.
        try await TestDatabases.execute("CREATE SCHEMA drawbridge", on: databases.drawbridgeURL)
        #expect(try await migrator.pending() == migrator.migrations)
        #expect(try await TestDatabases.strings("SELECT count(*)::text FROM pg_tables WHERE schemaname = 'drawbridge'", on: databases.drawbridgeURL) == ["0"])
    }

    @Test func anEditedMigrationIsRefused() async throws {
        let databases = try await TestDatabases.create()
        defer { Task { await databases.drop() } }
        let original = try migrator(databases)
        try await original.migrate()
        var edited = original.migrations
        edited[0].sql += "\n-- edited"
        let tampered = DatabaseMigrator(url: databases.drawbridgeURL, schema: "drawbridge", migrations: edited, logger: Logger(label: "test"))
        await #expect(throws: MigrationError.self) { try await tampered.migrate() }
        await #expect(throws: MigrationError.self) { try await tampered.pending() }
    }

    @Test func aFailingMigrationRollsBackEntirely() async throws {
        let databases = try await TestDatabases.create()
        defer { Task { await databases.drop() } }
        let broken = DatabaseMigrator(
            url: databases.drawbridgeURL,
            schema: "drawbridge",
            migrations: [Migration(version: 1, name: "half", sql: "CREATE TABLE half_done (id int); SELECT no_such_function();")],
            logger: Logger(label: "test")
        )
        do {
            try await broken.migrate()
            Issue.record("a broken migration succeeded")
        } catch {
            #expect("\(error)".hasPrefix("migration 1 (half) failed and was rolled back: function no_such_function() does not exist"))
        }
        #expect(try await TestDatabases.strings("SELECT count(*)::text FROM pg_tables WHERE tablename = 'half_done'", on: databases.drawbridgeURL) == ["0"])
    }
}
