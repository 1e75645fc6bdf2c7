/// The public contract of configuration key names: YAML paths, and `DRAWBRIDGE_` + upper snake case in the environment.
public enum ConfigurationKeys {
    /// Every key Drawbridge reads. A YAML key outside this list is an error (a typo should not be silently ignored).
    public static let all: [String] = [
        "http.host", "http.port",
        "public_url",
        "trusted_proxies",
        "database.url", "database.schema", "database.max_connections",
        "directory.url", "directory.table",
        "directory.columns.id", "directory.columns.login", "directory.columns.email",
        "directory.columns.name", "directory.columns.password", "directory.columns.active",
        "directory.login_by", "directory.lookup_query", "directory.list_query", "directory.max_connections",
        "session.cookie_name", "session.cookie_domain", "session.idle_timeout", "session.absolute_timeout",
        "platform_session.cookie_name", "platform_session.query", "platform_session.hash", "platform_session.recheck_interval",
        "hashing.threads", "hashing.queue_limit",
        "login_throttle.user_failures", "login_throttle.address_failures", "login_throttle.window",
        "oauth.code_lifetime", "oauth.access_token_lifetime", "oauth.refresh_token_lifetime", "oauth.id_token_lifetime",
        "oauth.refresh_reuse_grace", "oauth.default_scope",
        "cache.lifetime", "cache.listen",
        "keys.encryption_key", "keys.algorithm",
        "provisioning.wait_budget", "provisioning.max_attempts", "provisioning.concurrency", "provisioning.poll_interval", "provisioning.lease", "provisioning.keep_done",
        "log.level", "log.format",
    ]

    /// Keys whose values are credentials: redacted in reports, and readable from files.
    public static let secrets: Set<String> = ["database.url", "directory.url", "keys.encryption_key"]

    /// `directory.url` → `DRAWBRIDGE_DIRECTORY_URL`.
    public static func environmentName(for key: String) -> String {
        "DRAWBRIDGE_" + key.uppercased().map { $0 == "." ? "_" : $0 }.map(String.init).joined()
    }

    /// Environment variables that are not configuration keys but are read by Drawbridge's own tools.
    static let nonKeyEnvironment: Set<String> = ["DRAWBRIDGE_CONFIG", "DRAWBRIDGE_SECRETS_DIR", "DRAWBRIDGE_CONNECTORS", "DRAWBRIDGE_MIGRATIONS_DIR"]
}
