import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Keeps this replica's caches in step with every other writer: LISTENs on `CacheInvalidation.channel` over a
/// dedicated connection and drops what each notice names (`migrations/0009` sends them from triggers).
///
/// Notices sent while no connection listens are lost, so whenever this is not listening — before the first
/// LISTEN, after losing the connection — the caches are emptied every `unsyncedLifetime`, and once more when
/// LISTEN is back: a replica never acts on a copy older than that one second plus however long a dead
/// connection takes to notice (`ping`). The caches' own lifetime stays the bound for anything else.
public struct CacheInvalidationListener: Service {
    /// Whether notices are flowing; also on `/metrics` (`drawbridge_cache_invalidation_listening`, `…_listens_total`,
    /// `drawbridge_cache_invalidations_total`), where a replica that keeps reconnecting shows.
    public final class Status: Sendable {
        private let state = Mutex((listening: false, listens: 0, notices: 0))
        private let listeningGauge = Gauge(label: "drawbridge_cache_invalidation_listening")
        private let listensCounter = Counter(label: "drawbridge_cache_invalidation_listens_total")
        private let noticesCounter = Counter(label: "drawbridge_cache_invalidations_total")

        public init() {}
        public var isListening: Bool { state.withLock { $0.listening } }
        /// Times LISTEN succeeded: 1 on a healthy run, more after reconnections.
        public var listens: Int { state.withLock { $0.listens } }
        public var notices: Int { state.withLock { $0.notices } }

        func listening(_ on: Bool) {
            state.withLock { state in
                state.listening = on
                if on { state.listens += 1 }
            }
            listeningGauge.record(on ? 1 : 0)
            if on { listensCounter.increment() }
        }

        func noticed() {
            state.withLock { $0.notices += 1 }
            noticesCounter.increment()
        }
    }

    public struct Timing: Sendable {
        /// The first retry's wait; doubled per failure up to `maximumBackoff`, each with up to a quarter's jitter.
        public var initialBackoff: Duration = .milliseconds(100)
        public var maximumBackoff: Duration = .seconds(5)
        /// How often an idle connection is checked (`SELECT 1`), and how long that may take before it counts as dead.
        public var ping: Duration = .seconds(1)
        public var pingTimeout: Duration = .seconds(2)
        /// How often the caches are emptied while nothing listens.
        public var unsyncedLifetime: Duration = .seconds(1)

        public init() {}
    }

    let connect: @Sendable () async throws -> PostgresConnection
    let targets: [any CacheInvalidationTarget]
    let timing: Timing
    let logger: Logger
    public let status = Status()

    /// `connect` opens a fresh connection per attempt (tests pass one that fails on demand).
    public init(targets: [any CacheInvalidationTarget], timing: Timing = Timing(), logger: Logger,
                connect: @escaping @Sendable () async throws -> PostgresConnection) {
        self.targets = targets
        self.timing = timing
        self.logger = logger
        self.connect = connect
    }

    public init(url: PostgresURL, targets: [any CacheInvalidationTarget], timing: Timing = Timing(), logger: Logger) {
        let ids = Atomic<Int>(0)
        self.init(targets: targets, timing: timing, logger: logger) { [logger] in
            // Named apart in pg_stat_activity: operators (and the tests) can tell it from the pool's connections.
            try await PostgresConnection.connect(
                configuration: url.connectionConfiguration(applicationName: "drawbridge-listener"),
                id: ids.add(1, ordering: .relaxed).newValue, logger: logger
            )
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await sweepWhileUnsynced() }
                await listenUntilCancelled()
                group.cancelAll()
            }
        }
    }

    /// Applies one notice's payload; unknown payloads (a newer release's) are ignored.
    public func apply(payload: String) {
        guard let invalidation = CacheInvalidation(payload: payload) else {
            logger.debug("ignored an unknown cache invalidation", metadata: ["payload": "\(payload.prefix(80))"])
            return
        }
        for target in targets { target.invalidate(invalidation) }
    }

    private func invalidateAll() {
        for target in targets { target.invalidateAll() }
    }

    private func sweepWhileUnsynced() async {
        while !Task.isCancelled {
            if !status.isListening { invalidateAll() }
            try? await Task.sleep(for: timing.unsyncedLifetime)
        }
    }

    private func listenUntilCancelled() async {
        var failures = 0
        while !Task.isCancelled {
            let listensBefore = status.listens
            do {
                try await listenOnce()
            } catch {
                if Task.isCancelled { break }
                logger.warning("cache invalidation listener lost its connection; caches are emptied every second until it is back", metadata: [
                    "error": "\(PostgresErrorText.describe(error))",
                ])
            }
            status.listening(false)
            failures = status.listens > listensBefore ? 1 : failures + 1
            try? await Task.sleep(for: backoff(afterFailures: failures))
        }
        status.listening(false)
    }

    private func backoff(afterFailures failures: Int) -> Duration {
        var delay = timing.initialBackoff
        for _ in 1..<max(1, failures) where delay < timing.maximumBackoff { delay *= 2 }
        delay = min(delay, timing.maximumBackoff)
        return delay + delay * Double.random(in: 0..<0.25)
    }

    /// One connection's life: returns or throws when it is gone.
    private func listenOnce() async throws {
        let connection = try await connect()
        do {
            try await connection.listen(on: CacheInvalidation.channel) { notices in
                // Listening from here on; anything cached before may have missed a notice.
                invalidateAll()
                status.listening(true)
                logger.debug("listening for cache invalidations")
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await notice in notices {
                            status.noticed()
                            apply(payload: notice.payload)
                        }
                        throw ListenerError.streamEnded
                    }
                    group.addTask { try await pingUntilFailure(connection) }
                    defer { group.cancelAll() }
                    try await group.next()
                }
            }
        } catch {
            status.listening(false)
            try? await connection.close()
            throw error
        }
        status.listening(false)
        try? await connection.close()
    }

    /// A connection can die without a word (a dropped network path); its notices stop just as silently.
    private func pingUntilFailure(_ connection: PostgresConnection) async throws {
        let logger = self.logger
        while true {
            try await Task.sleep(for: timing.ping)
            try await withTimeout(timing.pingTimeout) { _ = try await connection.query("SELECT 1", logger: logger).collect() }
        }
    }

    enum ListenerError: Error, CustomStringConvertible {
        case streamEnded
        var description: String { "the notification stream ended" }
    }
}
