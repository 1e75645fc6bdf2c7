import DrawbridgeCore
import Logging
import PostgresNIO
import Testing

/// The platform's table through PostgresUserDirectory, on a real PostgreSQL. Every test leaves the platform
/// database exactly as it found it (`TestDatabases.withPlatform`).
@Suite struct DirectoryTests {
    func withDirectory(
        table: String = PlatformFixture.accountsTable,
        settings makeSettings: (TestDatabases) -> DirectorySettings,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: (any UserDirectory, TestDatabases) async throws -> Void
    ) async throws {
        try await TestDatabases.withPlatform(table, sourceLocation: sourceLocation) { databases in
            let settings = makeSettings(databases)
            let client = PostgresClient(configuration: settings.url.clientConfiguration(maxConnections: 2, readOnly: true))
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                try await body(PostgresUserDirectory(client: client, settings: settings, logger: Logger(label: "test")), databases)
            }
        }
    }

    static func tableSettings(_ databases: TestDatabases) -> DirectorySettings {
        try! DrawbridgeConfiguration.test(databases).directory
    }

    @Test func findsUsersByLoginOrEmailInAnyCase() async throws {
        try await withDirectory(settings: Self.tableSettings) { directory, _ in
            for typed in ["alice", "ALICE", "alice@example.com", "ALICE@EXAMPLE.COM", "  Alice  "] {
                let user = try await directory.user(matching: typed)
                #expect(user?.login == "alice", "typed \(typed)")
                #expect(user?.email == "alice@example.com")
                #expect(user?.name == "Alice Liddell")
                #expect(user?.isActive == true)
                #expect(Int(user?.id ?? "") != nil)
            }
            #expect(try await directory.user(matching: "nobody") == nil)
            #expect(try await directory.user(matching: "") == nil)
            #expect(try await directory.user(matching: "alice' OR '1'='1") == nil)
            let frank = try await directory.user(matching: "frank")
            #expect(frank?.isActive == false)
        }
    }

    @Test func uuidIdsThroughALookupQuery() async throws {
        try await withDirectory(table: PlatformFixture.uuidTable, settings: { databases in
            DirectorySettings(url: databases.platformURL, source: .lookupQuery(PlatformFixture.uuidLookupQuery))
        }) { directory, _ in
            let zed = try await directory.user(matching: "zed")
            #expect(zed?.id == "6f1c1c3e-0d9b-4f7e-9a43-2a8b5f0c7d11")
            #expect(zed?.login == "Zed")
            #expect(zed?.isActive == true)
            #expect(try await directory.user(matching: "ZED@example.NET")?.login == "Zed")
            #expect(try await directory.user(matching: "yan")?.isActive == false)
            await #expect(throws: DirectoryError.self) { try await directory.allUsers() }
        }
    }

    @Test func aNameMatchingTwoDifferentUsersIsRefused() async throws {
        let table = PlatformFixture.accountsTable + """
            INSERT INTO public.accounts (login, email, full_name) VALUES
                ('Alice', 'other@example.com', 'Other Alice'),
                ('bob@example.com', 'bobby@example.com', 'Bob Login'),
                ('robert', 'bob@example.com', 'Bob Email');
            """
        try await withDirectory(table: table, settings: Self.tableSettings) { directory, _ in
            await #expect(throws: DirectoryError.self) { try await directory.user(matching: "alice") }
            // An exact login match beats another user's email.
            let bob = try await directory.user(matching: "bob@example.com")
            #expect(bob?.name == "Bob Login")
        }
    }

    @Test func theDirectoryConnectionCannotWrite() async throws {
        try await TestDatabases.withPlatform { databases in
            let connection = try await PostgresConnection.connect(configuration: databases.platformURL.connectionConfiguration(readOnly: true), id: 1, logger: Logger(label: "test"))
            await #expect(throws: PSQLError.self) {
                try await connection.query("UPDATE public.accounts SET full_name = 'pwned'", logger: Logger(label: "test"))
            }
            try await connection.close()
        }
    }

    @Test func inspectorNamesMissingColumnsAndWrongTypes() async throws {
        try await TestDatabases.withPlatform { databases in
            var settings = try DrawbridgeConfiguration.test(databases).directory
            settings.source = .table(TableReference(schema: "public", name: "accounts"), columns: ColumnMapping(id: "id", login: "username", email: "email", name: "full_name", password: "password_hash", active: "full_name"))
            let problems = await DirectoryInspector(settings: settings, logger: Logger(label: "test")).problems().map(\.description)
            #expect(problems.contains { $0.hasPrefix("directory.columns.login: column 'username' not found in public.accounts (it has: email, full_name, id, is_active, login, password_hash)") })
            #expect(problems.contains("directory.columns.active: column 'full_name' has type text; expected one of bigint, boolean, integer, smallint"))
            settings.source = .table(TableReference(schema: "public", name: "acounts"), columns: ColumnMapping())
            #expect(await DirectoryInspector(settings: settings, logger: Logger(label: "test")).problems().map(\.description) == [
                "directory.table: table 'public.acounts' does not exist, or postgres cannot see it"
            ])
            var unreachable = settings
            unreachable.url.port = 1
            let down = await DirectoryInspector(settings: unreachable, logger: Logger(label: "test")).problems().map(\.description)
            #expect(down.count == 1)
            #expect(down.first?.hasPrefix("directory.url: cannot connect to postgres://postgres@127.0.0.1:1/") == true)
        }
    }
}
