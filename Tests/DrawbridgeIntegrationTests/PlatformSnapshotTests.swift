import DrawbridgeCore
import Testing

/// The "platform unchanged" check that most integration tests end with would pass vacuously if the dump missed
/// what a write changes: it must see a changed row, a new row in another schema's table, and a changed column.
@Suite struct PlatformSnapshotTests {
    @Test(arguments: [
        "UPDATE public.accounts SET is_active = false WHERE login = 'alice'",
        "UPDATE crm.people SET secret = NULL WHERE handle = 'Zed'",
        "DELETE FROM public.accounts WHERE login = 'legacy'",
        "CREATE TABLE public.audit (at timestamptz); INSERT INTO public.audit VALUES (now())",
        "ALTER TABLE public.accounts ALTER COLUMN is_active SET DEFAULT false",
    ])
    func theDumpSeesEveryKindOfWrite(_ write: String) async throws {
        try await TestDatabases.withFresh { databases in
            try await TestDatabases.execute(PlatformFixture.accountsTable + PlatformFixture.uuidTable, on: databases.platformURL)
            let before = try await databases.platformDump()
            #expect(before.contains { $0.hasPrefix("public.accounts: ") && $0.contains("alice") })
            #expect(before.contains { $0.hasPrefix("crm.people: ") && $0.contains("Zed") })
            try await TestDatabases.execute(write, on: databases.platformURL)
            #expect(try await databases.platformDump() != before)
        }
    }
}
