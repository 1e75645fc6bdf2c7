import Foundation
import Synchronization

/// Slows password guessing: after `userFailures` failed sign-ins for one typed user name, or
/// `addressFailures` from one client address, within `window`, further attempts are refused (429 with
/// Retry-After) before any hash is computed, until the window that began with the first failure ends.
///
/// It throttles, never locks out for good: a window ends by itself, and a success clears the user name's
/// count. Unknown user names are counted exactly like known ones, so the throttle tells nobody who has an
/// account. Counts are per replica (in memory): with N replicas behind a balancer an attacker gets at most
/// N times the allowance, which keeps the check free of database writes on the sign-in path.
public final class SignInThrottle: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Failures allowed per typed user name (case-insensitive) per window; 0 turns this check off.
        public var userFailures: Int
        /// Failures allowed per client address per window; 0 turns this check off.
        public var addressFailures: Int
        public var window: Duration

        public init(userFailures: Int = 10, addressFailures: Int = 50, window: Duration = .seconds(900)) {
            self.userFailures = userFailures
            self.addressFailures = addressFailures
            self.window = window
        }
    }

    private struct Count {
        var failures: Int
        var since: ContinuousClock.Instant
    }

    public let settings: Settings
    private let counts = Mutex<[String: Count]>([:])
    private let capacity: Int

    public init(settings: Settings, capacity: Int = 200_000) {
        self.settings = settings
        self.capacity = capacity
    }

    private static func userKey(_ name: String) -> String { "u:" + name.trimmingCharacters(in: .whitespaces).lowercased() }
    private static func addressKey(_ address: String) -> String { "a:" + address }

    /// How long this attempt must wait, or nil when it may go ahead.
    public func retryAfter(user: String, address: String?, now: ContinuousClock.Instant = .now) -> Duration? {
        var limits = [(Self.userKey(user), settings.userFailures)]
        if let address { limits.append((Self.addressKey(address), settings.addressFailures)) }
        return counts.withLock { counts in
            limits.compactMap { key, limit -> Duration? in
                guard limit > 0, let count = counts[key] else { return nil }
                let ends = count.since + settings.window
                if ends <= now {
                    counts[key] = nil
                    return nil
                }
                return count.failures >= limit ? ends - now : nil
            }.max()
        }
    }

    public func recordFailure(user: String, address: String?, now: ContinuousClock.Instant = .now) {
        var keys = [Self.userKey(user)]
        if let address { keys.append(Self.addressKey(address)) }
        counts.withLock { counts in
            if counts.count >= capacity {
                // Drop finished windows; if that is not enough, forget everything (memory stays bounded).
                counts = counts.filter { $0.value.since + settings.window > now }
                if counts.count >= capacity { counts.removeAll(keepingCapacity: true) }
            }
            for key in keys {
                if var count = counts[key], count.since + settings.window > now {
                    count.failures += 1
                    counts[key] = count
                } else {
                    counts[key] = Count(failures: 1, since: now)
                }
            }
        }
    }

    /// A correct password clears the user name's count (not the address's: one good account must not
    /// reset the allowance for guessing others from the same place).
    public func recordSuccess(user: String) {
        _ = counts.withLock { $0.removeValue(forKey: Self.userKey(user)) }
    }
}
