import Foundation

/// Forward auth's copies of sessions, one process-wide set: the resolver reads through them, sign-out and the
/// NOTIFY listener drop from them. Entries never outlive the session's absolute end, however long `lifetime`.
public struct SessionCaches: CacheInvalidationTarget {
    /// Cookie digest → the session (nil: none), for `/auth/verify`'s bursts.
    public let byDigest: ExpiringCache<[UInt8], Session?>
    /// Platform-session fingerprint → the session opened from it, for proxies that drop Set-Cookie.
    public let byPlatformSession: ExpiringCache<[UInt8], (digest: [UInt8], session: Session)?>

    public init(lifetime: Duration) {
        byDigest = ExpiringCache(lifetime: lifetime)
        byPlatformSession = ExpiringCache(lifetime: lifetime)
    }

    /// For `ExpiringCache.value(for:notAfter:load:)`.
    public static func deadline(of session: Session?) -> ContinuousClock.Instant? {
        session.map { .now + .seconds(max(0, $0.expiresAt.timeIntervalSinceNow)) }
    }

    public func invalidate(_ invalidation: CacheInvalidation) {
        guard case .session(let digest) = invalidation else { return }
        byDigest.remove(digest)
        // Few entries (only sessions opened from a platform cookie), and sign-outs are rare next to reads.
        byPlatformSession.removeAll { _, found in found?.digest == digest }
    }

    public func invalidateAll() {
        byDigest.removeAll()
        byPlatformSession.removeAll()
    }
}
