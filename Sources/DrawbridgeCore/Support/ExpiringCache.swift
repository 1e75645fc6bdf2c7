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
    private let loads = Mutex<[Key: Task<Value, any Error>]>([:])
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

    /// `jitter` shortens the entry's life by up to a fifth, at random, so entries loaded together (a warm-up,
    /// a burst) do not all expire in the same instant and miss together again.
    public func store(_ value: Value, for key: Key, notAfter deadline: ContinuousClock.Instant? = nil, jitter: Bool = false) {
        guard lifetime > .zero else { return }
        let now = ContinuousClock.now
        var expires = now + lifetime
        if jitter { expires -= lifetime * Double.random(in: 0..<0.2) }
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

    /// Cached value or `load()`'s, which is then kept. Requests that miss together share one load: when a hot
    /// entry expires under a burst, the database sees one read for it, not one per request in flight.
    public func value(for key: Key, load: @escaping @Sendable () async throws -> Value) async throws -> Value {
        if let cached = value(for: key) { return cached }
        let (task, isLeader) = loads.withLock { loads in
            if let running = loads[key] { return (running, false) }
            let task = Task { try await load() }
            loads[key] = task
            return (task, true)
        }
        guard isLeader else { return try await task.value }
        // Stored before the load is forgotten, so a request arriving in between finds one or the other.
        defer { _ = loads.withLock { $0.removeValue(forKey: key) } }
        let loaded = try await task.value
        store(loaded, for: key, jitter: true)
        return loaded
    }
}
