import Foundation

public struct ProvisioningJob: Sendable, Equatable {
    public enum Action: String, Sendable, CaseIterable {
        case provision, update, deactivate
        case revokeSessions = "revoke_sessions"
    }

    public enum State: String, Sendable {
        case pending, done, failed
    }

    public var id: Int64
    public var connector: String
    public var action: Action
    public var platformUserID: String
    public var userLogin: String
    public var state: State
    public var attempts: Int
    public var maxAttempts: Int
    public var nextAttemptAt: Date
    public var lastError: String?
    /// What was done, once done.
    public var result: String?
    public var createdAt: Date

    /// Whether failing now ends the job: no retry offered (a refusal), or its attempts are used up.
    public func failsForGood(retryAfter: Duration?) -> Bool {
        retryAfter == nil || attempts >= maxAttempts
    }

    public init(id: Int64, connector: String, action: Action, platformUserID: String, userLogin: String, state: State, attempts: Int,
                maxAttempts: Int, nextAttemptAt: Date, lastError: String?, result: String? = nil, createdAt: Date) {
        self.id = id
        self.connector = connector
        self.action = action
        self.platformUserID = platformUserID
        self.userLogin = userLogin
        self.state = state
        self.attempts = attempts
        self.maxAttempts = maxAttempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
        self.result = result
        self.createdAt = createdAt
    }
}

/// Exponential back-off with full jitter, capped: 2 s, 4 s, 8 s … at most 10 minutes between attempts.
public enum RetrySchedule {
    public static func delay(afterAttempt attempt: Int, base: Duration = .seconds(2), cap: Duration = .seconds(600)) -> Duration {
        let exponent = min(max(attempt - 1, 0), 20)
        let ceiling = min(Double(base.wholeSeconds) * pow(2, Double(exponent)), Double(cap.wholeSeconds))
        return .milliseconds(Int64(Double.random(in: ceiling / 2...ceiling) * 1000))
    }
}
