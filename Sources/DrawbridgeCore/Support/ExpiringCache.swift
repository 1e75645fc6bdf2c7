import Synchronization

/// A small in-memory cache whose entries live at most `lifetime`.
///
/// Used on hot read paths (sessions, token look-ups, profiles, clients) where a replica may act on data at
/// most `lifetime` old. Writers elsewhere reach it sooner through `remove` (this replica's own writes, and
/// the NOTIFY listener for every replica's), so the lifetime is the bound when a notice is lost, not the rule.
///
/// Read through `value(for:notAfter:load:)`, a hot entry is reloaded in the background once it is four fifths
/// through its life, and requests keep getting it meanwhile: a request waits for the source only when an entry
/// is missing or has run out, never because a busy entry is due for its routine reload. Staleness is still
/// bounded by `lifetime`.
public final class ExpiringCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var expires: ContinuousClock.Instant
        /// Four fifths of the way to `expires`: a read after this starts a background reload, early enough that
        /// the reload (a database round trip) is back before the entry runs out, late enough to add only about a
        /// quarter to the reads a cache without it makes.
        var refreshAfter: ContinuousClock.Instant
    }

    private struct Load {
        var id: UInt64
        var task: Task<Value, any Error>
    }

    private struct Loads {
        var running: [Key: Load] = [:]
        var nextID: UInt64 = 0
    }

    private struct Storage {
        var entries: [Key: Entry] = [:]
        /// Counts removals, so a value read from the source before one is not stored after it.
        var generation = Generation(count: 0)
    }

    /// When a load began, as far as removals go: see `store(_:for:notAfter:jitter:loadedSince:)`.
    public struct Generation: Sendable, Equatable {
        fileprivate var count: UInt64
    }

    private let storage = Mutex(Storage())
    private let loads = Mutex(Loads())
    public let lifetime: Duration
    public let capacity: Int

    /// The time entries are judged by: the clock, except in tests that move it by hand.
    private let now: @Sendable () -> ContinuousClock.Instant

    public init(lifetime: Duration, capacity: Int = 50_000, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.now = now
        self.lifetime = lifetime
        self.capacity = capacity
    }

    public func value(for key: Key) -> Value? {
        guard lifetime > .zero else { return nil }
        let now = self.now()
        return storage.withLock { storage in
            guard let entry = storage.entries[key] else { return nil }
            if entry.expires > now { return entry.value }
            storage.entries[key] = nil
            return nil
        }
    }

    /// Take before reading the source, and pass to `store(loadedSince:)`.
    public var generation: Generation { storage.withLock { $0.generation } }

    /// `jitter` shortens the entry's life by up to a fifth, at random, so entries loaded together (a warm-up,
    /// a burst) do not all expire in the same instant and miss together again. With `loadedSince`, nothing is
    /// stored when anything was removed since then: the value may predate that removal (a session read just
    /// before another replica ended it must not be kept for a whole lifetime after the notice).
    public func store(_ value: Value, for key: Key, notAfter deadline: ContinuousClock.Instant? = nil, jitter: Bool = false,
                      loadedSince generation: Generation? = nil) {
        guard lifetime > .zero else { return }
        let now = self.now()
        var expires = now + lifetime
        if jitter { expires -= lifetime * Double.random(in: 0..<0.2) }
        if let deadline, deadline < expires { expires = deadline }
        storage.withLock { storage in
            if let generation, generation != storage.generation { return }
            if storage.entries.count >= capacity {
                // Drop what has expired; if that is not enough, start over (a cache, not a store).
                storage.entries = storage.entries.filter { $0.value.expires > now }
                if storage.entries.count >= capacity { storage.entries.removeAll(keepingCapacity: true) }
            }
            storage.entries[key] = Entry(value: value, expires: expires, refreshAfter: now + (expires - now) * 0.8)
        }
    }

    public func remove(_ key: Key) {
        storage.withLock { storage in
            storage.entries[key] = nil
            storage.generation.count &+= 1
        }
        // A load still running may have read the old value; later requests start their own.
        _ = loads.withLock { $0.running.removeValue(forKey: key) }
    }

    public func removeAll() {
        storage.withLock { storage in
            storage.entries.removeAll(keepingCapacity: true)
            storage.generation.count &+= 1
        }
        loads.withLock { $0.running.removeAll() }
    }

    /// For entries known by their value only (a session cached under its platform session's fingerprint).
    public func removeAll(where shouldRemove: (Key, Value) -> Bool) {
        storage.withLock { storage in
            storage.entries = storage.entries.filter { !shouldRemove($0.key, $0.value.value) }
            storage.generation.count &+= 1
        }
        loads.withLock { $0.running.removeAll() }
    }

    /// Cached value or `load()`'s, which is then kept (no longer than `notAfter` says of it, if given). Requests
    /// that miss together share one load: when a hot entry expires under a burst, the database sees one read
    /// for it, not one per request in flight. An entry past four fifths of its life is returned as it is while one
    /// shared load refreshes it in the background; if that load fails, the entry simply runs out.
    public func value(for key: Key, notAfter: (@Sendable (Value) -> ContinuousClock.Instant?)? = nil,
                      load: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let now = self.now()
        let cached: (value: Value, due: Bool)? = storage.withLock { storage in
            guard let entry = storage.entries[key] else { return nil }
            if entry.expires > now { return (entry.value, entry.refreshAfter <= now) }
            storage.entries[key] = nil
            return nil
        }
        if let cached {
            if cached.due { _ = sharedLoad(for: key, notAfter: notAfter, load: load) }
            return cached.value
        }
        return try await sharedLoad(for: key, notAfter: notAfter, load: load).value
    }

    /// The load already running for `key`, or a new one that stores its result (unless a removal came first)
    /// before it is forgotten, so a request arriving in between finds one or the other.
    private func sharedLoad(for key: Key, notAfter: (@Sendable (Value) -> ContinuousClock.Instant?)?,
                            load: @escaping @Sendable () async throws -> Value) -> Task<Value, any Error> {
        let generation = self.generation
        return loads.withLock { loads in
            if let running = loads.running[key] { return running.task }
            let id = loads.nextID
            loads.nextID &+= 1
            let task = Task {
                defer { self.loads.withLock { if $0.running[key]?.id == id { $0.running[key] = nil } } }
                let loaded = try await load()
                self.store(loaded, for: key, notAfter: notAfter?(loaded), jitter: true, loadedSince: generation)
                return loaded
            }
            loads.running[key] = Load(id: id, task: task)
            return task
        }
    }
}
