import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Works the outbox inside `drawbridge serve`: claims due jobs, runs them a few at a time, retries
/// failures with back-off, and gives up (visibly, as `failed`) after a job's attempts are used.
/// Several replicas run this at once; the claim query keeps each job with one worker.
public final class ProvisioningWorker: Service, Sendable {
    let provisioner: Provisioner
    let settings: ProvisioningSettings
    let logger: Logger
    /// Wakes the loop at once when this replica enqueues a job (a sign-in waiting for its account).
    private let wake: AsyncStream<Void>.Continuation
    private let wakeups: Mutex<AsyncStream<Void>?>

    public init(provisioner: Provisioner, settings: ProvisioningSettings, logger: Logger) {
        self.provisioner = provisioner
        self.settings = settings
        self.logger = logger
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.wake = continuation
        self.wakeups = Mutex(stream)
    }

    public func nudge() {
        wake.yield()
    }

    public func run() async throws {
        guard let stream = wakeups.withLock({ stream -> AsyncStream<Void>? in defer { stream = nil }; return stream }) else { return }
        let (wake, pollInterval) = (self.wake, settings.pollInterval)
        try await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                // The poll: wakes the loop now and then for jobs other replicas queued or that came due.
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: pollInterval)
                        wake.yield()
                    }
                }
                // Housekeeping: the queue's gauges for /metrics, and now and then the purge of old done jobs.
                group.addTask {
                    var lastPurge: ContinuousClock.Instant?
                    while !Task.isCancelled {
                        await self.reportQueue()
                        if lastPurge.map({ ContinuousClock.now - $0 > .seconds(3600) }) ?? true {
                            await self.purgeOldJobs()
                            lastPurge = .now
                        }
                        try? await Task.sleep(for: .seconds(15))
                    }
                }
                for await _ in stream {
                    while !Task.isCancelled, await self.runDueJobs() > 0 {}
                }
                group.cancelAll()
            }
        }
    }

    /// Claims and runs one batch; returns how many jobs it ran.
    @discardableResult
    public func runDueJobs() async -> Int {
        let jobs: [ProvisioningJob]
        do {
            jobs = try await provisioner.store.claim(limit: settings.concurrency, lease: settings.lease)
        } catch {
            logger.warning("cannot claim provisioning jobs", metadata: ["error": "\(PostgresErrorText.describe(error))"])
            return 0
        }
        await withTaskGroup(of: Void.self) { group in
            for job in jobs {
                group.addTask { await self.execute(job) }
            }
        }
        return jobs.count
    }

    /// Queue depth by connector and state, and the oldest pending job's age: what to alert on during a chat outage.
    /// A state that emptied is set to 0, not left at its last value.
    func reportQueue() async {
        guard let rows = try? await provisioner.store.summary(states: ["pending", "failed"]) else { return }
        var seen: Set<String> = []
        for row in rows {
            seen.insert(row.connector + "/" + row.state)
            Gauge(label: "drawbridge_provisioning_jobs", dimensions: [("connector", row.connector), ("state", row.state)]).record(row.count)
        }
        for connector in provisioner.connectors.keys {
            for state in ["pending", "failed"] where !seen.contains(connector + "/" + state) {
                Gauge(label: "drawbridge_provisioning_jobs", dimensions: [("connector", connector), ("state", state)]).record(0)
            }
            let oldest = rows.first { $0.connector == connector && $0.state == "pending" }?.oldest
            Gauge(label: "drawbridge_provisioning_oldest_pending_seconds", dimensions: [("connector", connector)]).record(oldest.map { max(0, -$0.timeIntervalSinceNow) } ?? 0)
        }
    }

    func purgeOldJobs() async {
        do {
            let purged = try await provisioner.store.purge(olderThan: settings.keepDone)
            if purged > 0 { logger.info("purged old done provisioning jobs", metadata: ["count": "\(purged)", "older_than": "\(settings.keepDone)"]) }
        } catch {
            logger.warning("cannot purge old provisioning jobs", metadata: ["error": "\(PostgresErrorText.describe(error))"])
        }
    }

    /// Runs these jobs now, due or not, if nobody else holds them (the CLI's `provision user` and `deprovision`);
    /// returns how many it ran.
    @discardableResult
    public func runNow(jobIDs: [Int64]) async throws -> Int {
        let jobs = try await provisioner.store.claim(ids: jobIDs, lease: settings.lease)
        await withTaskGroup(of: Void.self) { group in
            for job in jobs {
                group.addTask { await self.execute(job) }
            }
        }
        return jobs.count
    }

    func execute(_ job: ProvisioningJob) async {
        let metadata: Logger.Metadata = ["job": "\(job.id)", "connector": "\(job.connector)", "action": "\(job.action.rawValue)", "user_id": "\(job.platformUserID)"]
        let recorded: Bool?
        do {
            let result = try await whileHoldingLease(job) { try await self.provisioner.run(job) }
            recorded = try? await provisioner.store.complete(job, result: result)
            Self.count(job, "done")
            logger.info("provisioning job done", metadata: metadata.merging(["result": "\(result)"]) { $1 })
        } catch let error as ConnectorError {
            let retry: Duration? = if case .unavailable = error { RetrySchedule.delay(afterAttempt: job.attempts) } else { nil }
            logger.warning("provisioning job failed", metadata: metadata.merging(["error": "\(error)", "retry": "\(retry.map { "\($0)" } ?? "no")"]) { $1 })
            recorded = try? await provisioner.store.fail(job, error: error.description, retryAfter: retry)
            Self.count(job, job.failsForGood(retryAfter: retry) ? "failed" : "retry")
        } catch {
            // Database trouble and the like: worth another try.
            let retry = RetrySchedule.delay(afterAttempt: job.attempts)
            logger.warning("provisioning job failed", metadata: metadata.merging(["error": "\(PostgresErrorText.describe(error))"]) { $1 })
            recorded = try? await provisioner.store.fail(job, error: PostgresErrorText.describe(error), retryAfter: retry)
            Self.count(job, job.failsForGood(retryAfter: retry) ? "failed" : "retry")
        }
        // nil: the database did not answer; the lease runs out and the job is run again (connector calls are idempotent).
        if recorded == false {
            logger.warning("provisioning job outlived its lease and was taken up again; the later claim records the outcome", metadata: metadata)
        }
    }

    private static func count(_ job: ProvisioningJob, _ result: String) {
        Counter(label: "drawbridge_provisioning_job_runs_total", dimensions: [("connector", job.connector), ("action", job.action.rawValue), ("result", result)]).increment()
    }

    /// Renews the job's lease every third of it while `body` runs, so a slow chat server (several calls at the
    /// connector's timeout each) does not hand the job to a second worker halfway. Renewal stops once the job is
    /// another claim's (the database was out of reach past the lease); `body` still finishes, and its outcome is
    /// then not recorded.
    private func whileHoldingLease<T: Sendable>(_ job: ProvisioningJob, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let (store, lease) = (provisioner.store, settings.lease)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                while true {
                    try await Task.sleep(for: lease / 3)
                    if (try? await store.extendLease(job, by: lease)) == false { return nil }
                }
            }
            group.addTask { try await body() }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw CancellationError()
        }
    }
}

public struct ProvisioningSettings: Sendable {
    /// How long a first sign-in waits for its chat account before going on regardless.
    public var waitBudget: Duration
    public var maxAttempts: Int
    public var concurrency: Int
    public var pollInterval: Duration
    /// How long a claimed job is this worker's before another may take it up.
    public var lease: Duration
    /// How long done jobs and finished sync runs are kept (for `provision status` and audits) before they are purged.
    public var keepDone: Duration = .seconds(30 * 86_400)

    public init(waitBudget: Duration = .seconds(2), maxAttempts: Int = 10, concurrency: Int = 8, pollInterval: Duration = .seconds(1), lease: Duration = .seconds(60)) {
        self.waitBudget = waitBudget
        self.maxAttempts = maxAttempts
        self.concurrency = concurrency
        self.pollInterval = pollInterval
        self.lease = lease
    }
}
