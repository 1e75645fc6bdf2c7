/// The platform's own session cookie, for platform-first sign-in (`platform_session:` in the config):
///
/// ```yaml
/// platform_session:
///   cookie_name: app_session
///   query: "SELECT account_id FROM web_sessions WHERE session_key = $1 AND expires_at > now()"
///   hash: sha256            # the query gets hex(SHA-256(cookie)) instead of the cookie itself
///   recheck_interval: 60s   # how stale Drawbridge's view of the platform session may get
/// ```
///
/// The query runs on the directory's (read-only) database with the cookie value as `$1`, and returns the
/// platform user's id, and optionally their login as a second column (needed when the directory is read
/// through `lookup_query`).
public struct PlatformSessionSettings: Sendable, Equatable {
    public enum CookieHash: String, Sendable, CaseIterable {
        case none
        case sha256
    }

    public var cookieName: String
    public var query: String
    public var hash: CookieHash
    public var recheckInterval: Duration

    public init(cookieName: String, query: String, hash: CookieHash = .none, recheckInterval: Duration = .seconds(60)) {
        self.cookieName = cookieName
        self.query = query
        self.hash = hash
        self.recheckInterval = recheckInterval
    }
}
