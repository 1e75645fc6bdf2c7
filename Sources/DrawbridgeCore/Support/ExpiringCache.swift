import Synchronization

/// A small in-memory cache whose entries live at most `lifetime`.
///
/// Used on hot read paths (token look-ups, profiles, clients) where a replica may act on data at most
/// `lifetime` old: with the one-second default, a revocation or deactivation made anywhere is honoured
/// everywhere within a second, as the design requires, without a message bus.
public final class ExpiringCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var expires: ContinuousClock.Instant
    }

    private let entries = Mutex<[Key: Entry]>([:])
    public let lifetime: Duration
    public let capacity: Int

    public init(lifetime: Duration, capacity: Int = 50_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    public func value(for key: Key) -> Value? {
        guard lifetime > .zero else { return nil }
        let now = ContinuousClock.now
        return entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            if entry.expires > now { return entry.value }
            entries[key] = nil
            return nil
        }
    }

    public func store(_ value: Value, for key: Key, notAfter deadline: ContinuousClock.Instant? = nil) {
        guard lifetime > .zero else { return }
        let now = ContinuousClock.now
        var expires = now + lifetime
        if let deadline, deadline < expires { expires = deadline }
        entries.withLock { entries in
            if entries.count >= capacity {
                // Drop what has expired; if that is not enough, start over (a cache, not a store).
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[key] = Entry(value: value, expires: expires)
        }
    }

    public func remove(_ key: Key) {
        _ = entries.withLock { $0.removeValue(forKey: key) }
    }

    public func removeAll() {
        entries.withLock { $0.removeAll(keepingCapacity: true) }
    }

    /// Cached value or `load()`'s, which is then kept.
    public func value(for key: Key, load: () async throws -> Value) async rethrows -> Value {
        if let cached = value(for: key) { return cached }
        let loaded = try await load()
        store(loaded, for: key)
        return loaded
    }
}
