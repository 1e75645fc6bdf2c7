import DrawbridgeCore
import Foundation
import Testing

@Suite struct ConfigurationLoaderTests {
    static let valid = """
        http: { host: 0.0.0.0, port: 9090 }
        public_url: https://sso.example.com/sso/
        trusted_proxies: [127.0.0.1/32, "10.0.0.0/8"]
        database: { url: "postgres://drawbridge:s%40cret@db.internal:5433/drawbridge?sslmode=require", schema: drawbridge }
        directory:
          url: postgres://platform_ro@127.0.0.1/platform
          table: public.accounts
          columns: { id: id, login: login, email: email, name: full_name, password: password_hash, active: is_active }
          login_by: [login, email]
        session: { cookie_name: drawbridge_session, cookie_domain: example.com, idle_timeout: 8h, absolute_timeout: 7d }
        """

    func load(_ yaml: String?, environment: [String: String] = [:]) async throws(ConfigurationProblems) -> DrawbridgeConfiguration {
        var path: String?
        if let yaml {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("drawbridge-\(UUID().uuidString).yaml")
            try! yaml.write(to: url, atomically: true, encoding: .utf8)
            path = url.path
        }
        return try await ConfigurationLoader(environment: environment).load(file: path)
    }

    func problems(_ yaml: String?, environment: [String: String] = [:]) async -> [String] {
        do {
            _ = try await load(yaml, environment: environment)
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    @Test func platformSessionIsReadAndItsMistakesAreNamed() async throws {
        let configured = try await load(Self.valid + """

            platform_session: { cookie_name: app_session, query: "SELECT account_id FROM web_sessions WHERE session_key = $1", hash: SHA256, recheck_interval: 30s }
            """)
        #expect(configured.platformSession == PlatformSessionSettings(
            cookieName: "app_session", query: "SELECT account_id FROM web_sessions WHERE session_key = $1", hash: .sha256, recheckInterval: .seconds(30)))
        #expect(try await load(Self.valid).platformSession == nil)
        let wrong = await problems(Self.valid + "\nplatform_session: { cookie_name: drawbridge_session, query: \"SELECT 1\", hash: md5 }\n")
        #expect(wrong.contains { $0.contains("platform_session.cookie_name") && $0.contains("Drawbridge's own session cookie") }, "\(wrong)")
        #expect(wrong.contains { $0.contains("platform_session.query") && $0.contains("$1") }, "\(wrong)")
        let fromEnvironment = try await load(Self.valid, environment: [
            "DRAWBRIDGE_PLATFORM_SESSION_COOKIE_NAME": "sid", "DRAWBRIDGE_PLATFORM_SESSION_QUERY": "SELECT user_id FROM s WHERE k = $1",
        ])
        #expect(fromEnvironment.platformSession?.cookieName == "sid" && fromEnvironment.platformSession?.hash == PlatformSessionSettings.CookieHash.none)
    }

    /// Longer caches only with the listener: without notices, the lifetime is how long a sign-out takes to spread.
    @Test func cacheLifetimeIsLongOnlyWithTheListener() async throws {
        let defaults = try await load(Self.valid).cache
        #expect(defaults.lifetime == .seconds(1) && defaults.listen)
        let long = try await load(Self.valid + "\ncache: { lifetime: 30s }\n").cache
        #expect(long.lifetime == .seconds(30) && long.listen)
        let off = try await load(Self.valid, environment: ["DRAWBRIDGE_CACHE_LISTEN": "false", "DRAWBRIDGE_CACHE_LIFETIME": "0"]).cache
        #expect(off.lifetime == .zero && !off.listen)
        let unsafe = await problems(Self.valid + "\ncache: { lifetime: 5s, listen: false }\n")
        #expect(unsafe.contains { $0.contains("cache.lifetime") && $0.contains("cache.listen") }, "\(unsafe)")
        let wrong = await problems(Self.valid + "\ncache: { lifetime: 1h, listen: maybe }\n")
        #expect(wrong.contains { $0.contains("cache.lifetime") && $0.contains("10m") }, "\(wrong)")
        #expect(wrong.contains { $0.contains("cache.listen") }, "\(wrong)")
    }

    @Test func launchLinkSettingsAreReadAndABadURLIsNamed() async throws {
        let configured = try await load(Self.valid + """

            connectors:
              mattermost: { url: "http://mattermost:8065", token: t, teams: [town], public_url: "https://chat.example.com", launch_team: lobby }
              synapse: { url: "http://synapse:8008", token: t, server_name: example.com, public_url: "https://matrix.example.com", client_url: "https://element.example.com" }
            """)
        let launchable = configured.provisioning.connectors.compactMap { $0.connector as? any ChatLaunching }
        #expect(launchable.count == 2)
        guard case .mattermost(_, let mattermost) = configured.provisioning.connectors.first(where: { $0.name == "mattermost" }),
              case .synapse(_, let synapse) = configured.provisioning.connectors.first(where: { $0.name == "synapse" }) else {
            Issue.record("connectors not read")
            return
        }
        #expect(mattermost.publicURL == "https://chat.example.com" && mattermost.launchTeam == "lobby")
        #expect(synapse.publicURL == "https://matrix.example.com" && synapse.clientURL == "https://element.example.com")
        let wrong = await problems(Self.valid + "\nconnectors:\n  synapse: { url: \"http://s\", token: t, server_name: x, client_url: element.example.com }\n")
        #expect(wrong.contains { $0.contains("connectors.synapse.client_url") && $0.contains("not an absolute http(s) URL") }, "\(wrong)")
        let misplaced = await problems(Self.valid + "\nconnectors:\n  rocketchat: { url: \"http://r\", token: t, user_id: u, client_url: \"https://x\" }\n")
        #expect(misplaced.contains { $0.contains("connectors.rocketchat.client_url") && $0.contains("not a setting of a rocketchat connector") }, "\(misplaced)")
    }

    @Test func provisioningSettingsAndTheOAuthClientOfEachConnectorAreRead() async throws {
        let configured = try await load(Self.valid + """

            connectors:
              mattermost: { url: "http://mattermost:8065", token: t, oauth_client: mm }
              rocketchat: { url: "http://rocket:3000", token: t, user_id: u, oauth_client: rc }
              events: { type: webhook, url: "http://hooks:9000/", secret: s }
            provisioning: { wait_budget: 1s, lease: 90s, keep_done: 7d }
            """)
        #expect(configured.provisioning.settings.keepDone == .seconds(7 * 86_400))
        #expect(configured.provisioning.settings.lease == .seconds(90))
        let clients = Dictionary(uniqueKeysWithValues: configured.provisioning.connectors.map { ($0.name, $0.connector.oauthClientID) })
        #expect(clients == ["mattermost": "mm", "rocketchat": "rc", "events": nil])
        let fromEnvironment = try await load(Self.valid, environment: ["DRAWBRIDGE_PROVISIONING_KEEP_DONE": "48h"])
        #expect(fromEnvironment.provisioning.settings.keepDone == .seconds(48 * 3600))
        let tooShort = await problems(Self.valid + "\nprovisioning: { keep_done: 10m }\n")
        #expect(tooShort.contains { $0.contains("provisioning.keep_done") && $0.contains("at least 1h") }, "\(tooShort)")
    }

    @Test func readsEveryDocumentedKey() async throws {
        let configuration = try await load(Self.valid)
        #expect(configuration.http.host == "0.0.0.0")
        #expect(configuration.http.port == 9090)
        #expect(configuration.publicURL.url("/login") == "https://sso.example.com/sso/login")
        #expect(configuration.trustedProxies.count == 2)
        #expect(configuration.database.url.password == "s@cret")
        #expect(configuration.database.url.port == 5433)
        #expect(configuration.database.url.tlsMode == .require)
        #expect("\(configuration.database.url)".contains("s@cret") == false)
        guard case .table(let table, let columns) = configuration.directory.source else {
            Issue.record("expected a table source")
            return
        }
        #expect(table == TableReference(schema: "public", name: "accounts"))
        #expect(columns.name == "full_name")
        #expect(columns.active == "is_active")
        #expect(configuration.directory.loginBy == [.login, .email])
        #expect(configuration.session.cookieDomain == "example.com")
        #expect(configuration.session.idleTimeout == .seconds(8 * 3600))
        #expect(configuration.session.absoluteTimeout == .seconds(7 * 86400))
    }

    @Test func environmentOverridesTheFileWithThePrefixedUpperSnakeName() async throws {
        let configuration = try await load(Self.valid, environment: [
            "DRAWBRIDGE_HTTP_PORT": "7070",
            "DRAWBRIDGE_DIRECTORY_URL": "postgres://other@10.1.1.1/users",
            "DRAWBRIDGE_SESSION_IDLE_TIMEOUT": "30m",
        ])
        #expect(configuration.http.port == 7070)
        #expect(configuration.directory.url.host == "10.1.1.1")
        #expect(configuration.session.idleTimeout == .seconds(1800))
    }

    @Test func secretsComeFromFilesNamedByTheFileSuffix() async throws {
        let secret = FileManager.default.temporaryDirectory.appendingPathComponent("db-url-\(UUID().uuidString)")
        try "postgres://drawbridge:from-file@127.0.0.1/drawbridge\n".write(to: secret, atomically: true, encoding: .utf8)
        let configuration = try await load(Self.valid, environment: ["DRAWBRIDGE_DATABASE_URL_FILE": secret.path])
        #expect(configuration.database.url.password == "from-file")
    }

    @Test func secretsDirectoryIsReadLikeAKubernetesMount() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("secrets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // As Kubernetes mounts a Secret: the files are symbolic links into a hidden ..data folder.
        let data = directory.appendingPathComponent("..data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try "postgres://platform_ro:mounted@127.0.0.1/platform\n".write(to: data.appendingPathComponent("directory-url"), atomically: true, encoding: .utf8)
        try "c2VjcmV0LWtleS1mb3ItdGVzdHMtMzItYnl0ZXMtbG9uZyE=".write(to: data.appendingPathComponent("keys-encryption-key"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent("directory-url").path, withDestinationPath: "..data/directory-url")
        try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent("keys-encryption-key").path, withDestinationPath: "..data/keys-encryption-key")
        let configuration = try await load(Self.valid, environment: ["DRAWBRIDGE_SECRETS_DIR": directory.path])
        #expect(configuration.directory.url.password == "mounted")
        #expect(configuration.keys.encryptionKey == "c2VjcmV0LWtleS1mb3ItdGVzdHMtMzItYnl0ZXMtbG9uZyE=")
    }

    @Test func environmentAloneIsEnough() async throws {
        let configuration = try await load(nil, environment: [
            "DRAWBRIDGE_PUBLIC_URL": "http://127.0.0.1:8080",
            "DRAWBRIDGE_DATABASE_URL": "postgres://drawbridge@127.0.0.1/drawbridge",
            "DRAWBRIDGE_DIRECTORY_URL": "postgres://platform_ro@127.0.0.1/platform",
            "DRAWBRIDGE_DIRECTORY_LOOKUP_QUERY": "SELECT id, login, email, name, hash, active FROM users WHERE login = $1",
            "DRAWBRIDGE_DIRECTORY_LOGIN_BY": "login",
        ])
        #expect(configuration.session.cookieDomain == nil)
        guard case .lookupQuery(let query) = configuration.directory.source else {
            Issue.record("expected a lookup query")
            return
        }
        #expect(query.contains("$1"))
    }

    @Test func unknownKeysAreNamedWithLineAndSuggestion() async {
        let yaml = Self.valid.replacingOccurrences(of: "login_by:", with: "loginby:")
        let found = await problems(yaml)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("directory.loginby: unknown key in ") == true)
        #expect(found.first?.hasSuffix("(line 9); did you mean 'directory.login_by'?") == true)
    }

    @Test func everyProblemIsReportedOnItsOwnLine() async {
        let yaml = """
            http: { port: 70000 }
            public_url: ftp://sso.example.com
            database: { url: "mysql://x@y/z" }
            directory: { url: "postgres://a@b/c", table: "accounts; drop table x", login_by: [password] }
            session: { cookie_domain: example.org, idle_timeout: 9d, absolute_timeout: 7d }
            """
        let found = await problems(yaml)
        #expect(found.contains { $0.hasPrefix("http.port:") })
        #expect(found.contains { $0.hasPrefix("public_url:") })
        #expect(found.contains { $0.hasPrefix("database.url: is not a postgres:// URL") })
        #expect(found.contains { $0.hasPrefix("directory.table:") && $0.contains("is not a table name") })
        #expect(found.contains { $0.hasPrefix("directory.login_by:") })
        #expect(found.contains { $0.hasPrefix("session.idle_timeout: is longer than") })
    }

    @Test func cookieDomainMustCoverThePublicHost() async {
        let notCovering = Self.valid.replacingOccurrences(of: "cookie_domain: example.com", with: "cookie_domain: example.org")
        #expect(await problems(notCovering) == [
            "session.cookie_domain: 'example.org' does not cover public_url's host 'sso.example.com': browsers would drop the cookie"
        ])
        let lookalike = Self.valid.replacingOccurrences(of: "cookie_domain: example.com", with: "cookie_domain: ample.com")
        #expect(await problems(lookalike).count == 1)
        let leadingDot = Self.valid.replacingOccurrences(of: "cookie_domain: example.com", with: "cookie_domain: .example.com")
        #expect(await problems(leadingDot).isEmpty)
    }

    @Test func unreadableFileIsOneLine() async {
        let found = await problems(nil, environment: [:])
        #expect(found.contains("public_url: missing (set it in the config file or DRAWBRIDGE_PUBLIC_URL)"))
        do {
            _ = try await ConfigurationLoader(environment: [:]).load(file: "/nonexistent/drawbridge.yaml")
            Issue.record("loading a missing file succeeded")
        } catch {
            #expect(error.problems.map(\.description) == ["/nonexistent/drawbridge.yaml: cannot read config file: no such file '/nonexistent/drawbridge.yaml'"])
        }
    }

    @Test func connectorVariablesAreSettingsAndTyposAreNot() {
        let loader = ConfigurationLoader(environment: [
            "DRAWBRIDGE_CONNECTORS_SYNAPSE_TOKEN_FILE": "/run/secrets/synapse",
            "DRAWBRIDGE_CONNECTORS_CHAT_EU_URL": "https://chat.example.com",
            "DRAWBRIDGE_CONNECTORS_MATTERMOST_TOKNE": "typo",
            "DRAWBRIDGE_CONNECTORS_TOKEN": "no connector name",
            "DRAWBRIDGE_HTTP_PORT": "8080",
            "DRAWBRIDGE_HTTP_PROT": "typo",
        ])
        #expect(loader.unknownEnvironmentVariables() == ["DRAWBRIDGE_CONNECTORS_MATTERMOST_TOKNE", "DRAWBRIDGE_CONNECTORS_TOKEN", "DRAWBRIDGE_HTTP_PROT"])
    }
}
