import DrawbridgeCore
import Foundation
import Logging
import PostgresNIO
import Testing

/// The `drawbridge` executable, run as a process against real databases. Whatever a command does, the
/// platform database is left exactly as it was (`TestDatabases.withPlatform`).
@Suite struct CommandLineTests {
    @Test func checkReportsTheCensusOfPasswordFormats() async throws {
        try await TestDatabases.withPlatform { databases in
            let config = try CommandRunner.writeConfig(databases)
            #expect(try CommandRunner.run(["migrate", "--config", config]).status == 0)
            let result = try CommandRunner.run(["check", "--config", config, "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            #expect(report?["ok"] as? Bool == true)
            #expect(report?["users"] as? Int == 6)
            #expect(report?["unverifiable_users"] as? Int == 2)
            let formats = (report?["password_formats"] as? [[String: Any]]) ?? []
            #expect(formats.contains { $0["format"] as? String == "bcrypt" && $0["count"] as? Int == 2 })
            #expect(formats.contains { ($0["format"] as? String)?.hasPrefix("unrecognised") == true && $0["verifiable"] as? Bool == false })
            let text = try CommandRunner.run(["check", "--config", config])
            #expect(text.stdout.contains("password formats among 6 platform users:"))
            #expect(text.stdout.contains("cannot be verified"))
        }
    }

    @Test func checkOnABrokenMappingNamesTheProblemAndFails() async throws {
        try await TestDatabases.withPlatform { databases in
            let config = try CommandRunner.writeConfig(databases) { $0.replacingOccurrences(of: "login: login,", with: "login: username,") }
            let result = try CommandRunner.run(["check", "--config", config])
            #expect(result.status != 0)
            #expect(result.stdout.contains("directory.columns.login: column 'username' not found in public.accounts"))
        }
    }

    @Test func checkRunsThePlatformSessionQuery() async throws {
        let platform = PlatformFixture.accountsTable + "CREATE TABLE public.web_sessions (session_key text PRIMARY KEY, account_id bigint NOT NULL);"
        try await TestDatabases.withPlatform(platform) { databases in
            #expect(try CommandRunner.run(["migrate", "--config", try CommandRunner.writeConfig(databases)]).status == 0)
            func check(_ platformSession: String, lookupQuery: Bool = false) throws -> CommandRunner.Result {
                let config = try CommandRunner.writeConfig(databases) { yaml in
                    var yaml = yaml + "\nplatform_session: { cookie_name: app_session, query: \"\(platformSession)\" }\n"
                    if lookupQuery {
                        yaml = yaml.replacingOccurrences(of: "  table: public.accounts\n  columns: { id: id, login: login, email: email, name: full_name, password: password_hash, active: is_active }\n",
                                                         with: "  lookup_query: \"SELECT id, login, email, full_name, password_hash, is_active FROM public.accounts WHERE lower(login) = lower($1)\"\n")
                    }
                    return yaml
                }
                return try CommandRunner.run(["check", "--config", config])
            }
            let good = try check("SELECT account_id FROM public.web_sessions WHERE session_key = $1")
            #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
            let typo = try check("SELECT account_id FROM public.web_session WHERE session_key = $1")
            #expect(typo.status == 1)
            #expect(typo.stdout.contains("platform_session.query: the query fails") && typo.stdout.contains("web_session"), "\(typo.stdout)")
            let noLogin = try check("SELECT account_id FROM public.web_sessions WHERE session_key = $1", lookupQuery: true)
            #expect(noLogin.stdout.contains("platform_session.query: returns 1 column(s); with directory.lookup_query it must return the user id and then the login"), "\(noLogin.stdout)")
            let withLogin = try check("SELECT s.account_id, a.login FROM public.web_sessions s JOIN public.accounts a ON a.id = s.account_id WHERE session_key = $1", lookupQuery: true)
            #expect(!withLogin.stdout.contains("platform_session.query"), "\(withLogin.stdout)")
        }
    }

    @Test func checkOnAnUnknownKeyOrUnreachableDatabaseFails() async throws {
        try await TestDatabases.withPlatform { databases in
            let typo = try CommandRunner.writeConfig(databases) { $0.replacingOccurrences(of: "cookie_name:", with: "cookie_nmae:") }
            let typoResult = try CommandRunner.run(["check", "--config", typo])
            #expect(typoResult.status == 2)
            #expect(typoResult.stderr.contains("drawbridge: error: config: session.cookie_nmae: unknown key in"))
            #expect(typoResult.stderr.contains("did you mean 'session.cookie_name'?"))

            let down = try CommandRunner.writeConfig(databases) { $0.replacingOccurrences(of: "127.0.0.1:\(databases.admin.port)/\(databases.platformName)", with: "127.0.0.1:1/nowhere") }
            let downResult = try CommandRunner.run(["check", "--config", down])
            #expect(downResult.status == 1)
            #expect(downResult.stdout.contains("directory.url: cannot connect to postgres://postgres@127.0.0.1:1/nowhere"))
        }
    }

    @Test func serveRefusesToStartWithPendingMigrations() async throws {
        try await TestDatabases.withPlatform { databases in
            let config = try CommandRunner.writeConfig(databases)
            let result = try CommandRunner.run(["serve", "--config", config])
            #expect(result.status == 2)
            #expect(result.stderr.contains("migration(s) pending; run `drawbridge migrate"))
        }
    }

    @Test func serveRefusesAMissingOrWrongKeyEncryptionKey() async throws {
        try await TestDatabases.withPlatform { databases in
            let config = try CommandRunner.writeConfig(databases)
            #expect(try CommandRunner.run(["migrate", "--config", config]).status == 0)
            #expect(try CommandRunner.run(["keys", "rotate", "--config", config]).status == 0)
            let missing = try CommandRunner.writeConfig(databases) { $0.replacingOccurrences(of: "keys: { encryption_key: \"\(testKeyEncryptionKey)\" }", with: "") }
            let noKey = try CommandRunner.run(["serve", "--config", missing])
            #expect(noKey.status == 2)
            #expect(noKey.stderr.contains("drawbridge: error: keys.encryption_key: missing"))
            #expect(noKey.stderr.contains("openssl rand -base64 32"))
            let other = KeyEncryptionKey.generate().base64
            let wrong = try CommandRunner.writeConfig(databases) { $0.replacingOccurrences(of: testKeyEncryptionKey, with: other) }
            let wrongKey = try CommandRunner.run(["serve", "--config", wrong])
            #expect(wrongKey.status == 2)
            #expect(wrongKey.stderr.contains("drawbridge: error: keys.encryption_key:"))
            #expect(wrongKey.stderr.contains("was the key changed?"))
        }
    }

    /// `check` runs serve's own start-up checks: what makes serve refuse to start is the same line in check's report.
    @Test func checkReportsTheKeyProblemsThatStopServe() async throws {
        try await TestDatabases.withPlatform { databases in
            let config = try CommandRunner.writeConfig(databases)
            #expect(try CommandRunner.run(["migrate", "--config", config]).status == 0)
            #expect(try CommandRunner.run(["keys", "rotate", "--config", config]).status == 0)
            let missing = try CommandRunner.writeConfig(databases) { $0.replacingOccurrences(of: "keys: { encryption_key: \"\(testKeyEncryptionKey)\" }", with: "") }
            let wrong = try CommandRunner.writeConfig(databases) { $0.replacingOccurrences(of: testKeyEncryptionKey, with: KeyEncryptionKey.generate().base64) }
            for badConfig in [missing, wrong] {
                let served = try CommandRunner.run(["serve", "--config", badConfig])
                #expect(served.status == 2)
                let refusal = try #require(served.stderr.split(separator: "\n").first { $0.hasPrefix("drawbridge: error: keys.encryption_key:") }, "\(served.stderr)")
                let problem = String(refusal.dropFirst("drawbridge: error: ".count))
                let checked = try CommandRunner.run(["check", "--config", badConfig])
                #expect(checked.status == 1)
                #expect(checked.stdout.contains("problem    ✗    \(problem)\n"), "\(checked.stdout)")
                let report = try CommandRunner.run(["check", "--config", badConfig, "--json"])
                #expect(report.status == 1)
                let json = try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any]
                #expect(json?["ok"] as? Bool == false)
                #expect(json?["problems"] as? [String] == [problem])
            }
            #expect(try CommandRunner.run(["check", "--config", config]).status == 0)
        }
    }

    @Test func checkOnAnEmptyDatabaseChangesNothingAndListsEveryMigrationAsPending() async throws {
        try await TestDatabases.withPlatform { databases in
            let config = try CommandRunner.writeConfig(databases)
            let all = try Self.migrationNames()
            let text = try CommandRunner.run(["check", "--config", config])
            #expect(text.status == 0, "\(text.stdout)\(text.stderr)")
            #expect(text.stdout.contains("migrations      \(all.count) pending (\(all.joined(separator: ", "))): run `drawbridge migrate`\n"), "\(text.stdout)")
            #expect(!text.stdout.contains("problem"), "\(text.stdout)")
            let json = try CommandRunner.run(["check", "--config", config, "--json"])
            let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            #expect(report?["pending_migrations"] as? [String] == all)
            #expect(try await Self.drawbridgeSchemas(databases) == ["0"], "check created Drawbridge's schema")
            // serve without --migrate still refuses, and changes nothing either.
            let served = try CommandRunner.run(["serve", "--config", config])
            #expect(served.status == 2)
            #expect(served.stderr.contains("database: \(all.count) migration(s) pending; run `drawbridge migrate"))
            #expect(try await Self.drawbridgeSchemas(databases) == ["0"], "serve without --migrate created Drawbridge's schema")
        }
    }

    @Test func migrateStatusPrintsJSONAndChangesNothing() async throws {
        try await TestDatabases.withPlatform { databases in
            let config = try CommandRunner.writeConfig(databases)
            let all = try Self.migrationNames()
            func json(_ arguments: [String]) throws -> [String: Any] {
                let result = try CommandRunner.run(["migrate", "--config", config, "--json"] + arguments)
                #expect(result.status == 0, "\(result.stderr)")
                return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            }
            let before = try json(["--status"])
            #expect(before["schema"] as? String == "drawbridge")
            #expect(before["applied"] as? [String] == [])
            #expect(before["pending"] as? [String] == all)
            #expect(try CommandRunner.run(["migrate", "--config", config, "--status"]).stdout == "pending: \(all.joined(separator: ", "))\n")
            #expect(try await Self.drawbridgeSchemas(databases) == ["0"], "migrate --status created Drawbridge's schema")

            let migrated = try json([])
            #expect(migrated["applied"] as? [String] == all)
            #expect(migrated["pending"] as? [String] == [])
            let after = try json(["--status"])
            #expect(after["applied"] as? [String] == [] && after["pending"] as? [String] == [])
            #expect(try CommandRunner.run(["migrate", "--config", config, "--status"]).stdout == "schema drawbridge is up to date\n")
        }
    }

    /// The table has a plain unique index on each column, which `lower(column) = lower($1)` cannot use.
    @Test func checkWarnsAboutLookupsWithoutAnExpressionIndex() async throws {
        try await TestDatabases.withFresh { databases in
            // This test adds the indexes check asks for, so the platform changes on purpose.
            try await TestDatabases.execute(PlatformFixture.accountsTable, on: databases.platformURL)
            let config = try CommandRunner.writeConfig(databases)
            #expect(try CommandRunner.run(["migrate", "--config", config]).status == 0)
            func check() throws -> (text: String, warnings: [String]) {
                let text = try CommandRunner.run(["check", "--config", config])
                #expect(text.status == 0, "a missing index is a warning, not a failure: \(text.stdout)")
                let json = try CommandRunner.run(["check", "--config", config, "--json"])
                let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
                #expect(report?["ok"] as? Bool == true)
                return (text.stdout, report?["warnings"] as? [String] ?? ["(no warnings key)"])
            }
            let noIndex = try check()
            #expect(noIndex.warnings == [
                "directory.login_by: public.accounts has no index on lower(login), so every sign-in reads the whole table; add it with `CREATE INDEX CONCURRENTLY ON public.accounts (lower(login));`",
                "directory.login_by: public.accounts has no index on lower(email), so every sign-in reads the whole table; add it with `CREATE INDEX CONCURRENTLY ON public.accounts (lower(email));`",
            ])
            #expect(noIndex.text.contains("warning    !    \(noIndex.warnings.first ?? "-")\n"), "\(noIndex.text)")
            #expect(!noIndex.text.contains("indexes    ok"))

            // The statement check prints, run as printed; then a varchar email (indexed as lower(email::text)),
            // whose first index failed and was left invalid.
            try await Self.runAlone("CREATE INDEX CONCURRENTLY ON public.accounts (lower(login));", on: databases.platformURL)
            try await TestDatabases.execute("""
                ALTER TABLE public.accounts ALTER COLUMN email TYPE varchar(200);
                INSERT INTO public.accounts (login, email, full_name) VALUES ('alice2', 'alice@example.com', 'Alice Again');
                """, on: databases.platformURL)
            await #expect(throws: (any Error).self) {
                try await Self.runAlone("CREATE UNIQUE INDEX CONCURRENTLY accounts_email_ci ON public.accounts (lower(email))", on: databases.platformURL)
            }
            let invalid = try check()
            #expect(invalid.warnings == [
                "directory.login_by: index public.accounts_email_ci on public.accounts (lower(email)) is invalid (a failed CREATE INDEX CONCURRENTLY?), so every sign-in reads the whole table; rebuild it with `DROP INDEX CONCURRENTLY public.accounts_email_ci; CREATE INDEX CONCURRENTLY ON public.accounts (lower(email));`",
            ])
            #expect(invalid.text.contains("indexes    ok   lower(login) on public.accounts\n"), "\(invalid.text)")

            try await Self.runAlone("DROP INDEX CONCURRENTLY public.accounts_email_ci", on: databases.platformURL)
            try await Self.runAlone("CREATE INDEX CONCURRENTLY ON public.accounts (lower(email))", on: databases.platformURL)
            let indexed = try check()
            #expect(indexed.warnings == [])
            #expect(indexed.text.contains("indexes    ok   lower(login), lower(email) on public.accounts\n"), "\(indexed.text)")
            #expect(!indexed.text.contains("warning"))

            let lookupQuery = try CommandRunner.writeConfig(databases) {
                $0.replacingOccurrences(of: "  table: public.accounts\n  columns: { id: id, login: login, email: email, name: full_name, password: password_hash, active: is_active }\n",
                                        with: "  lookup_query: \"SELECT id, login, email, full_name, password_hash, is_active FROM public.accounts WHERE login = $1\"\n")
            }
            let skipped = try CommandRunner.run(["check", "--config", lookupQuery])
            #expect(skipped.status == 0, "\(skipped.stdout)")
            #expect(skipped.stdout.contains("indexes         skipped: directory.lookup_query is your own SQL; check its plan with EXPLAIN\n"), "\(skipped.stdout)")
            #expect(!skipped.stdout.contains("warning"))
        }
    }

    @Test func clientsLifecycleThroughTheCLI() async throws {
        try await TestDatabases.withPlatform { databases in
            let config = try CommandRunner.writeConfig(databases)
            #expect(try CommandRunner.run(["migrate", "--config", config]).status == 0)
            let added = try CommandRunner.run(["clients", "add", "--config", config, "--name", "Chat", "--trusted", "--client-id", "chat-client",
                                               "--redirect-uri", "https://chat.example.com/signup/gitlab/complete", "--json"])
            #expect(added.status == 0, "\(added.stderr)")
            let credentials = try #require(try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: String])
            #expect(credentials["client_id"] == "chat-client")
            let secret = try #require(credentials["client_secret"])
            // Stored hashed: the secret is nowhere in the database.
            let stored = try await TestDatabases.strings("SELECT encode(secret_hash, 'hex') FROM drawbridge.oauth_clients", on: databases.drawbridgeURL)
            #expect(stored == [ClientSecret.hash(secret).map { String(format: "%02x", $0) }.joined()])

            let duplicate = try CommandRunner.run(["clients", "add", "--config", config, "--name", "Again", "--client-id", "chat-client", "--redirect-uri", "https://x.example.com/cb"])
            #expect(duplicate.status == 1)
            #expect(duplicate.stderr.contains("a client with id 'chat-client' already exists"))
            let insecure = try CommandRunner.run(["clients", "add", "--config", config, "--name", "Bad", "--redirect-uri", "http://chat.example.com/cb"])
            #expect(insecure.status == 2)
            #expect(insecure.stderr.contains("uses http; only https"))

            let listed = try CommandRunner.run(["clients", "list", "--config", config])
            #expect(listed.stdout.contains("chat-client  Chat  [trusted]  https://chat.example.com/signup/gitlab/complete"))
            #expect(try CommandRunner.run(["clients", "update", "chat-client", "--config", config, "--trusted", "false", "--name", "Team chat"]).status == 0)
            let shown = try CommandRunner.run(["clients", "show", "chat-client", "--config", config, "--json"])
            #expect(shown.stdout.contains("\"trusted\" : false"))
            #expect(shown.stdout.contains("\"name\" : \"Team chat\""))
            #expect(!shown.stdout.contains(secret))

            let rotated = try CommandRunner.run(["clients", "rotate-secret", "chat-client", "--config", config, "--json"])
            let newSecret = try #require((try JSONSerialization.jsonObject(with: Data(rotated.stdout.utf8)) as? [String: String])?["client_secret"])
            #expect(newSecret != secret)
            #expect(try CommandRunner.run(["clients", "remove", "chat-client", "--config", config]).status == 0)
            let gone = try CommandRunner.run(["clients", "show", "chat-client", "--config", config])
            #expect(gone.status == 1)
            #expect(gone.stderr.contains("no client with id 'chat-client' (see `drawbridge clients list`)"))
        }
    }

    @Test func usersShowNeverPrintsTheHash() async throws {
        try await TestDatabases.withPlatform { databases in
            let config = try CommandRunner.writeConfig(databases)
            let result = try CommandRunner.run(["users", "show", "ALICE@example.com", "--config", config, "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("\"login\" : \"alice\""))
            #expect(result.stdout.contains("\"password_format\" : \"bcrypt\""))
            #expect(result.stdout.contains("\"can_sign_in\" : true"))
            #expect(!result.stdout.contains("$2y$"))
            let frank = try CommandRunner.run(["users", "show", "frank", "--config", config])
            #expect(frank.stdout.contains("can sign in:     no"))
            let missing = try CommandRunner.run(["users", "show", "nobody", "--config", config])
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("no platform user matches 'nobody'"))
        }
    }

    @Test func passwordVerifyExitCodes() throws {
        let match = try CommandRunner.run(["password", "verify", PlatformFixture.bcryptHash], stdin: PlatformFixture.password + "\n")
        #expect(match.status == 0)
        #expect(match.stdout == "format: bcrypt\nresult: match\n")
        let mismatch = try CommandRunner.run(["password", "verify", PlatformFixture.bcryptHash], stdin: "wrong")
        #expect(mismatch.status == 1)
        #expect(mismatch.stdout.contains("result: mismatch"))
        let unknown = try CommandRunner.run(["password", "verify", "hunter2"], stdin: "hunter2")
        #expect(unknown.status == 2)
        #expect(unknown.stderr.hasPrefix("drawbridge: error: unrecognised hash format"))
        let malformed = try CommandRunner.run(["password", "verify", "$2b$99$abc"], stdin: "x")
        #expect(malformed.status == 2)
    }

    @Test func passwordVerifyPrintsJSONWithTheSameExitCodes() throws {
        func verify(_ hash: String, _ password: String) throws -> (status: Int32, json: [String: Any]) {
            let result = try CommandRunner.run(["password", "verify", hash, "--json"], stdin: password)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)\(result.stderr)")
            #expect(Set(json.keys) == ["result", "format", "reason"], "every key, always")
            return (result.status, json)
        }
        let match = try verify(PlatformFixture.bcryptHash, PlatformFixture.password + "\n")
        #expect(match.status == 0)
        #expect(match.json["result"] as? String == "match" && match.json["format"] as? String == "bcrypt" && match.json["reason"] is NSNull)
        let mismatch = try verify(PlatformFixture.bcryptHash, "wrong")
        #expect(mismatch.status == 1)
        #expect(mismatch.json["result"] as? String == "mismatch" && mismatch.json["format"] as? String == "bcrypt")
        let unknown = try verify("hunter2", "hunter2")
        #expect(unknown.status == 2)
        #expect(unknown.json["result"] as? String == "unrecognised" && unknown.json["format"] is NSNull)
        #expect((unknown.json["reason"] as? String)?.hasPrefix("looks like: ") == true)
        let malformed = try verify("$2b$99$abc", "x")
        #expect(malformed.status == 2)
        #expect(malformed.json["result"] as? String == "malformed" && malformed.json["format"] as? String == "bcrypt")
        #expect((malformed.json["reason"] as? String)?.isEmpty == false)
    }

    /// Runs `drawbridge serve` as a process, signs in through it, stops it with SIGTERM: a clean exit,
    /// and JSON log lines that never carry a password, a stored hash or a session token.
    @Test func serveLogsSafelyAndStopsGracefullyOnSIGTERM() async throws {
        try await TestDatabases.withPlatform { databases in
            let port = try CommandRunner.freePort()
            let config = try CommandRunner.writeConfig(databases) { $0.replacingOccurrences(of: "port: 0", with: "port: \(port)") }
            let errors = Pipe()
            let process = try await CommandRunner.startServe(config: config, port: port, log: errors, arguments: ["--migrate"])
            let browser = Browser(port: port, publicURL: try PublicURL(parsing: "https://sso.example.com"))
            #expect(try await browser.signIn(username: "alice", password: "Wr0ng-Secret-Guess").status == 401)
            #expect(try await browser.signIn(username: "alice", password: PlatformFixture.password).status == 303)
            let token = try #require(browser.sessionToken)
            process.terminate()  // SIGTERM
            let deadline = ContinuousClock.now + .seconds(10)
            while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!process.isRunning, "serve ignored SIGTERM")
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(log.contains("drawbridge listening"))
            #expect(log.contains("signed in"))
            // The fixture's table has no lower(login) index: serve says so as check does, and starts anyway.
            #expect(log.contains("CREATE INDEX CONCURRENTLY ON public.accounts (lower(login));"))
            #expect(!log.contains("\"level\":\"error\""), "\(log)")
            let lines = log.split(separator: "\n")
            #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) is [String: Any] }, "every line is a JSON object")
            for secret in [PlatformFixture.password, "Wr0ng-Secret-Guess", PlatformFixture.bcryptHash, String(PlatformFixture.bcryptHash.suffix(31)), token] {
                #expect(!log.contains(secret), "the log leaks \(secret.prefix(6))…")
            }
        }
    }

    /// The migration files' names as the CLI prints them (`0001_sessions`), in order.
    static func migrationNames() throws -> [String] {
        guard let directory = Migration.defaultDirectory() else { throw TestSetupError("migrations/ not found") }
        return try Migration.load(from: directory).map(\.numberedName)
    }

    /// How many schemas named `drawbridge` Drawbridge's database has, as text.
    static func drawbridgeSchemas(_ databases: TestDatabases) async throws -> [String] {
        try await TestDatabases.strings("SELECT count(*)::text FROM pg_namespace WHERE nspname = 'drawbridge'", on: databases.drawbridgeURL)
    }

    /// One statement on its own connection, outside any transaction or DO block (CREATE INDEX CONCURRENTLY needs that).
    static func runAlone(_ sql: String, on url: PostgresURL) async throws {
        let connection = try await PostgresConnection.connect(configuration: url.connectionConfiguration(), id: 1, logger: Logger(label: "test"))
        do {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "test"))
            try await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
