/// Runs `body`, giving up after `limit`; PostgresClient waits forever for a dead server, checks must not.
public func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimeoutError(limit: limit)
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw TimeoutError(limit: limit) }
        return first
    }
}

public struct TimeoutError: Error, Sendable, CustomStringConvertible {
    public var limit: Duration
    public var description: String { "no answer within \(limit)" }
}
