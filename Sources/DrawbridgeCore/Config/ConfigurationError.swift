/// One thing wrong with the configuration, phrased so the operator knows what to change.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The dotted key (`directory.table`) or a source (`drawbridge.yaml`) the problem belongs to.
    public var key: String?
    public var message: String

    public init(_ message: String, key: String? = nil) {
        self.key = key
        self.message = message
    }

    public func at(_ key: String) -> ConfigurationError {
        ConfigurationError(message, key: self.key ?? key)
    }

    public var description: String {
        key.map { "\($0): \(message)" } ?? message
    }
}

/// Every problem found, reported together so an operator fixes them in one pass.
public struct ConfigurationProblems: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigurationError]

    public init(_ problems: [ConfigurationError]) {
        self.problems = problems
    }

    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}
