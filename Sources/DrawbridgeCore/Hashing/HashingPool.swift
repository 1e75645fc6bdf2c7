import Metrics
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Runs password verification on its own threads, never on the event loop, with a bounded queue.
///
/// When `threads + queueLimit` verifications are already admitted, new work is refused at once
/// (`HashingPoolError.overloaded`) instead of piling up: the caller answers 503 and every other route,
/// which never touches this pool, stays fast.
public final class HashingPool: Service, Sendable {
    public let threads: Int
    public let queueLimit: Int
    private let threadPool: NIOThreadPool
    private let admitted = Atomic<Int>(0)
    private let waiting = Atomic<Int>(0)
    private let queueDepth = Gauge(label: "drawbridge_hash_pool_queue_depth")
    private let waitTime = Metrics.Timer(label: "drawbridge_hash_pool_wait_seconds", preferredDisplayUnit: .seconds)
    private let rejections = Counter(label: "drawbridge_hash_pool_rejections_total")

    public init(settings: HashingSettings) {
        self.threads = settings.threads
        self.queueLimit = settings.queueLimit
        self.threadPool = NIOThreadPool(numberOfThreads: settings.threads)
        self.threadPool.start()
    }

    /// Work admitted and not yet finished (running plus queued).
    public var load: Int { admitted.load(ordering: .relaxed) }

    /// Whether new work would be admitted now: a cheap early answer, so a sign-in that would be turned away
    /// does not first cost a database look-up. `run` still makes the real, atomic decision.
    public var isSaturated: Bool { load >= threads + queueLimit }

    /// Runs `body` on a pool thread; throws `.overloaded` when the queue is full, `.shutDown` after shutdown.
    public func run<Result: Sendable>(_ body: @escaping @Sendable () -> Result) async throws(HashingPoolError) -> Result {
        let capacity = threads + queueLimit
        let (wasAdmitted, _) = admitted.wrappingAdd(1, ordering: .acquiringAndReleasing)
        guard wasAdmitted < capacity else {
            admitted.wrappingSubtract(1, ordering: .acquiringAndReleasing)
            rejections.increment()
            throw .overloaded
        }
        defer { admitted.wrappingSubtract(1, ordering: .acquiringAndReleasing) }
        let depth = waiting.wrappingAdd(1, ordering: .relaxed).newValue
        queueDepth.record(depth)
        let enqueued = ContinuousClock.now
        do {
            return try await threadPool.runIfActive { [self] in
                let started = ContinuousClock.now
                self.queueDepth.record(self.waiting.wrappingSubtract(1, ordering: .relaxed).newValue)
                self.waitTime.recordNanoseconds(Int64((started - enqueued).nanosecondsApproximation))
                return body()
            }
        } catch {
            throw .shutDown
        }
    }

    /// Keeps the pool alive while the service group runs, and stops its threads on graceful shutdown.
    public func run() async throws {
        try? await gracefulShutdown()
        try await threadPool.shutdownGracefully()
    }

    public func shutdown() async throws {
        try await threadPool.shutdownGracefully()
    }
}

public enum HashingPoolError: Error, Sendable, Equatable {
    case overloaded
    case shutDown
}

extension Duration {
    var nanosecondsApproximation: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
