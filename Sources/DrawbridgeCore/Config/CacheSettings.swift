/// Each replica's in-memory copies of sessions, bearer tokens and OAuth clients (`cache.*`).
public struct CacheSettings: Sendable {
    /// How old a cached session, token or client may be. Whatever ends or changes one notifies every replica
    /// at once (LISTEN/NOTIFY); this bounds what a lost notice can cost. Above `unnotifiedMaximum` only with
    /// `listen`, so that without notices the old one-second promise still holds.
    public var lifetime: Duration
    /// Whether `serve` keeps a connection LISTENing for those notices. Off only where LISTEN cannot work
    /// (a pooler in transaction mode between Drawbridge and Postgres).
    public var listen: Bool

    public static let unnotifiedMaximum: Duration = .seconds(1)
    public static let maximum: Duration = .seconds(600)

    public init(lifetime: Duration = .seconds(1), listen: Bool = true) {
        self.lifetime = lifetime
        self.listen = listen
    }
}
