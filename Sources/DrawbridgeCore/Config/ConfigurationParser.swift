import Configuration
import Foundation

/// Raw values by dotted key, whatever provider they came from.
struct ConfigurationValues {
    let reader: ConfigReader
    /// Secrets for keys that are not in the fixed list (named connectors), from `DRAWBRIDGE_<KEY>_FILE`.
    var environment: [String: String] = [:]

    /// A secret value: the key itself, or a file named by `DRAWBRIDGE_<KEY>_FILE`.
    func secret(_ key: String) -> String? {
        if let value = reader.string(forKey: ConfigKey(key), isSecret: true), !value.isEmpty { return value }
        guard let path = environment[ConfigurationKeys.environmentName(for: key) + "_FILE"],
            var text = try? String(contentsOfFile: path, encoding: .utf8)
        else { return nil }
        while text.last?.isNewline == true { text.removeLast() }
        return text.isEmpty ? nil : text
    }

    func string(_ key: String) -> String? {
        let value = reader.string(forKey: ConfigKey(key), isSecret: ConfigurationKeys.secrets.contains(key))
        guard let value, !value.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        return value
    }

    func strings(_ key: String) -> [String]? {
        if let array = reader.stringArray(forKey: ConfigKey(key)) {
            return array.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        // A single scalar (e.g. `login_by: email`) reads as a one-element list.
        return string(key).map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    }
}

/// Turns raw values into typed settings, recording one precise problem per bad key.
struct ConfigurationParser {
    let values: ConfigurationValues
    var connectorNames: [String] = []

    func parse(problems: inout [ConfigurationError]) -> DrawbridgeConfiguration? {
        let http = HTTPSettings(
            host: values.string("http.host") ?? "127.0.0.1",
            port: integer("http.port", default: 8080, range: 0...65535, problems: &problems)
        )
        let publicURL: PublicURL? = required("public_url", problems: &problems) { try PublicURL(parsing: $0) }
        var trustedProxies: [IPNetwork] = []
        for entry in values.strings("trusted_proxies") ?? [] {
            do {
                trustedProxies.append(try IPNetwork(parsing: entry))
            } catch {
                problems.append(error.at("trusted_proxies"))
            }
        }
        let databaseURL: PostgresURL? = required("database.url", problems: &problems) { try PostgresURL(parsing: $0) }
        let schema = values.string("database.schema") ?? "drawbridge"
        if !SQLIdentifier.isPlain(schema) {
            problems.append(ConfigurationError("'\(schema)' is not a plain SQL identifier (letters, digits, _)", key: "database.schema"))
        }
        let databaseConnections = integer("database.max_connections", default: 20, range: 1...1000, problems: &problems)
        let directory = parseDirectory(problems: &problems)
        let session = parseSession(publicURL: publicURL, problems: &problems)
        let threads = integer("hashing.threads", default: 0, range: 0...256, problems: &problems)
        let hashing = HashingSettings(
            threads: threads == 0 ? ProcessInfo.processInfo.activeProcessorCount : threads,
            queueLimit: integer("hashing.queue_limit", default: 64, range: 0...100_000, problems: &problems)
        )
        let throttleWindow = durationAllowingZero("login_throttle.window", default: .seconds(900), problems: &problems)
        if throttleWindow < .seconds(1) { problems.append(ConfigurationError("must be at least 1s", key: "login_throttle.window")) }
        let loginThrottle = SignInThrottle.Settings(
            userFailures: integer("login_throttle.user_failures", default: 10, range: 0...100_000, problems: &problems),
            addressFailures: integer("login_throttle.address_failures", default: 50, range: 0...1_000_000, problems: &problems),
            window: throttleWindow
        )
        let log = parseLog(problems: &problems)
        let oauth = parseOAuth(problems: &problems)
        let cache = parseCache(problems: &problems)
        let keyAlgorithm = values.string("keys.algorithm")?.uppercased() ?? "RS256"
        if !["RS256", "ES256"].contains(keyAlgorithm) {
            problems.append(ConfigurationError("'\(keyAlgorithm)' is not RS256 or ES256", key: "keys.algorithm"))
        }
        let keys = KeySettings(encryptionKey: values.string("keys.encryption_key"), algorithm: keyAlgorithm)
        let provisioning = parseProvisioning(connectorNames: connectorNames, problems: &problems)
        let platformSession = parsePlatformSession(sessionCookie: session?.cookieName, problems: &problems)
        guard let publicURL, let databaseURL, let directory, let session else { return nil }
        return DrawbridgeConfiguration(
            http: http,
            publicURL: publicURL,
            trustedProxies: trustedProxies,
            database: DatabaseSettings(url: databaseURL, schema: schema, maxConnections: databaseConnections),
            directory: directory,
            session: session,
            hashing: hashing,
            oauth: oauth,
            keys: keys,
            provisioning: provisioning,
            log: log,
            platformSession: platformSession,
            loginThrottle: loginThrottle,
            cache: cache
        )
    }

    private func parsePlatformSession(sessionCookie: String?, problems: inout [ConfigurationError]) -> PlatformSessionSettings? {
        let cookieName = values.string("platform_session.cookie_name"), query = values.string("platform_session.query")
        guard cookieName != nil || query != nil || values.string("platform_session.hash") != nil else { return nil }
        guard let cookieName, !cookieName.isEmpty else {
            problems.append(ConfigurationError("missing: the name of the platform's session cookie", key: "platform_session.cookie_name"))
            return nil
        }
        if cookieName == sessionCookie {
            problems.append(ConfigurationError("'\(cookieName)' is Drawbridge's own session cookie (session.cookie_name); name the platform's", key: "platform_session.cookie_name"))
        }
        guard let query, query.contains("$1") else {
            problems.append(ConfigurationError("missing or without $1: a SELECT that returns the user id for the cookie value $1", key: "platform_session.query"))
            return nil
        }
        let hashText = values.string("platform_session.hash")?.lowercased() ?? "none"
        guard let hash = PlatformSessionSettings.CookieHash(rawValue: hashText) else {
            problems.append(ConfigurationError("'\(hashText)' is not none or sha256", key: "platform_session.hash"))
            return nil
        }
        let recheck = duration("platform_session.recheck_interval", default: .seconds(60), problems: &problems)
        return PlatformSessionSettings(cookieName: cookieName, query: query, hash: hash, recheckInterval: recheck)
    }

    private func parseDirectory(problems: inout [ConfigurationError]) -> DirectorySettings? {
        let url: PostgresURL? = required("directory.url", problems: &problems) { try PostgresURL(parsing: $0) }
        let table = values.string("directory.table")
        let lookupQuery = values.string("directory.lookup_query")
        var source: DirectorySettings.Source?
        switch (table, lookupQuery) {
        case (.some, .some):
            problems.append(ConfigurationError("set either directory.table (with columns) or directory.lookup_query, not both", key: "directory"))
        case (nil, nil):
            problems.append(ConfigurationError("missing: set directory.table and directory.columns, or directory.lookup_query", key: "directory.table"))
        case (nil, .some(let query)):
            if !query.contains("$1") {
                problems.append(ConfigurationError("must use $1 for the typed user name", key: "directory.lookup_query"))
            } else {
                source = .lookupQuery(query)
            }
        case (.some(let table), nil):
            guard let reference = TableReference(parsing: table) else {
                problems.append(ConfigurationError("'\(table)' is not a table name (schema.table, plain identifiers)", key: "directory.table"))
                break
            }
            var columns = ColumnMapping()
            var valid = true
            func column(_ field: DirectorySettings.Field, _ fallback: String?) -> String? {
                let key = "directory.columns.\(field.rawValue)"
                guard let name = values.string(key) ?? fallback else { return nil }
                if !SQLIdentifier.isPlain(name) {
                    problems.append(ConfigurationError("'\(name)' is not a plain column name", key: key))
                    valid = false
                }
                return name
            }
            columns.id = column(.id, "id") ?? "id"
            columns.login = column(.login, "login") ?? "login"
            columns.email = column(.email, "email") ?? "email"
            columns.name = column(.name, nil)
            columns.password = column(.password, "password") ?? "password"
            columns.active = column(.active, nil)
            if valid { source = .table(reference, columns: columns) }
        }
        var loginBy: [DirectorySettings.Field] = []
        for name in values.strings("directory.login_by") ?? ["login", "email"] {
            guard let field = DirectorySettings.Field(rawValue: name), [.login, .email, .id].contains(field) else {
                problems.append(ConfigurationError("'\(name)' cannot be matched against a typed user name (use login, email or id)", key: "directory.login_by"))
                continue
            }
            if !loginBy.contains(field) { loginBy.append(field) }
        }
        if loginBy.isEmpty, problems.allSatisfy({ $0.key != "directory.login_by" }) {
            problems.append(ConfigurationError("must name at least one of login, email", key: "directory.login_by"))
        }
        let connections = integer("directory.max_connections", default: 10, range: 1...1000, problems: &problems)
        guard let url, let source else { return nil }
        return DirectorySettings(url: url, source: source, loginBy: loginBy, listQuery: values.string("directory.list_query"), maxConnections: connections)
    }

    private func parseSession(publicURL: PublicURL?, problems: inout [ConfigurationError]) -> SessionSettings? {
        let cookieName = values.string("session.cookie_name") ?? "drawbridge_session"
        let tokenCharacters = CharacterSet(charactersIn: "!#$%&'*+-.^_`|~").union(.alphanumerics)
        if cookieName.unicodeScalars.contains(where: { !$0.isASCII || !tokenCharacters.contains($0) }) {
            problems.append(ConfigurationError("'\(cookieName)' is not a valid cookie name", key: "session.cookie_name"))
        }
        var cookieDomain = values.string("session.cookie_domain")?.lowercased()
        if let domain = cookieDomain {
            let bare = domain.hasPrefix(".") ? String(domain.dropFirst()) : domain
            cookieDomain = bare
            if IPNetwork.bytes(of: bare) != nil || !bare.contains(".") && bare != "localhost" {
                problems.append(ConfigurationError("'\(domain)' cannot be a cookie domain (use a registrable domain such as example.com, or leave it out for a host-only cookie)", key: "session.cookie_domain"))
            } else if let publicURL, publicURL.host != bare, !publicURL.host.hasSuffix("." + bare) {
                problems.append(ConfigurationError("'\(bare)' does not cover public_url's host '\(publicURL.host)': browsers would drop the cookie", key: "session.cookie_domain"))
            }
        }
        let idle = duration("session.idle_timeout", default: .seconds(8 * 3600), problems: &problems)
        let absolute = duration("session.absolute_timeout", default: .seconds(7 * 86400), problems: &problems)
        if idle > absolute {
            problems.append(ConfigurationError("is longer than session.absolute_timeout", key: "session.idle_timeout"))
        }
        return SessionSettings(cookieName: cookieName, cookieDomain: cookieDomain, idleTimeout: idle, absoluteTimeout: absolute)
    }

    private func parseOAuth(problems: inout [ConfigurationError]) -> OAuthSettings {
        var settings = OAuthSettings()
        settings.codeLifetime = duration("oauth.code_lifetime", default: settings.codeLifetime, problems: &problems)
        if settings.codeLifetime < .seconds(60) || settings.codeLifetime > .seconds(600) {
            problems.append(ConfigurationError("must be between 60s and 10m (RFC 6749 §4.1.2)", key: "oauth.code_lifetime"))
        }
        settings.accessTokenLifetime = duration("oauth.access_token_lifetime", default: settings.accessTokenLifetime, problems: &problems)
        if settings.accessTokenLifetime > .seconds(Int64(Int32.max)) {
            problems.append(ConfigurationError("is too long (expires_in must fit a 32-bit integer)", key: "oauth.access_token_lifetime"))
        }
        settings.refreshTokenLifetime = duration("oauth.refresh_token_lifetime", default: settings.refreshTokenLifetime, problems: &problems)
        settings.idTokenLifetime = duration("oauth.id_token_lifetime", default: settings.idTokenLifetime, problems: &problems)
        settings.refreshReuseGrace = duration("oauth.refresh_reuse_grace", default: settings.refreshReuseGrace, problems: &problems)
        if let scope = values.string("oauth.default_scope") {
            let unknown = scope.split(separator: " ").map(String.init).filter { !settings.supportedScopes.contains($0) }
            if unknown.isEmpty {
                settings.defaultScope = scope
            } else {
                problems.append(ConfigurationError("unknown scope(s) \(unknown.joined(separator: ", ")); supported: \(settings.supportedScopes.joined(separator: " "))", key: "oauth.default_scope"))
            }
        }
        return settings
    }

    private func parseCache(problems: inout [ConfigurationError]) -> CacheSettings {
        var settings = CacheSettings()
        if let text = values.string("cache.listen") {
            switch text.trimmingCharacters(in: .whitespaces).lowercased() {
            case "true", "yes", "on", "1": settings.listen = true
            case "false", "no", "off", "0": settings.listen = false
            default: problems.append(ConfigurationError("'\(text)' is not true or false", key: "cache.listen"))
            }
        }
        settings.lifetime = durationAllowingZero("cache.lifetime", default: settings.lifetime, problems: &problems)
        if settings.lifetime > CacheSettings.maximum {
            problems.append(ConfigurationError("must be at most 10m", key: "cache.lifetime"))
        } else if settings.lifetime > CacheSettings.unnotifiedMaximum, !settings.listen {
            problems.append(ConfigurationError(
                "may be longer than 1s only with cache.listen: true (without notices, a sign-out would take that long to reach other replicas)",
                key: "cache.lifetime"
            ))
        }
        return settings
    }

    private func parseLog(problems: inout [ConfigurationError]) -> LogSettings {
        let level = values.string("log.level")?.lowercased() ?? "info"
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        if !levels.contains(level) {
            problems.append(ConfigurationError("'\(level)' is not one of \(levels.joined(separator: ", "))", key: "log.level"))
        }
        let formatText = values.string("log.format")?.lowercased() ?? "auto"
        guard let format = LogSettings.Format(rawValue: formatText) else {
            problems.append(ConfigurationError("'\(formatText)' is not one of auto, json, text", key: "log.format"))
            return LogSettings(level: level)
        }
        return LogSettings(level: level, format: format)
    }

    private func required<T>(_ key: String, problems: inout [ConfigurationError], parse: (String) throws -> T) -> T? {
        guard let text = values.string(key) else {
            problems.append(ConfigurationError("missing (set it in the config file or \(ConfigurationKeys.environmentName(for: key)))", key: key))
            return nil
        }
        do {
            return try parse(text)
        } catch let error as ConfigurationError {
            problems.append(error.at(key))
        } catch {
            problems.append(ConfigurationError("\(error)", key: key))
        }
        return nil
    }

    func integer(_ key: String, default fallback: Int, range: ClosedRange<Int>, problems: inout [ConfigurationError]) -> Int {
        guard let text = values.string(key) else { return fallback }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            problems.append(ConfigurationError("'\(text)' is not a whole number in \(range.lowerBound)…\(range.upperBound)", key: key))
            return fallback
        }
        return value
    }

    private func duration(_ key: String, default fallback: Duration, problems: inout [ConfigurationError]) -> Duration {
        guard let text = values.string(key) else { return fallback }
        guard let value = DurationParser.parse(text), value > .zero else {
            problems.append(ConfigurationError("'\(text)' is not a duration (e.g. 90s, 15m, 8h, 7d)", key: key))
            return fallback
        }
        return value
    }
}
