/// A space-separated scope string (RFC 6749 §3.3), kept in request order without duplicates.
public struct Scope: Sendable, Equatable, CustomStringConvertible {
    public private(set) var values: [String]

    public init(_ text: String?) {
        var values: [String] = []
        for part in (text ?? "").split(separator: " ") where !values.contains(String(part)) {
            values.append(String(part))
        }
        self.values = values
    }

    public var isEmpty: Bool { values.isEmpty }
    public var description: String { values.joined(separator: " ") }

    public func contains(_ value: String) -> Bool { values.contains(value) }

    public func isSubset(of other: Scope) -> Bool { values.allSatisfy(other.values.contains) }

    /// The scope to grant: the default when none was asked for; `invalid_scope` for anything unsupported.
    public static func granted(requested: String?, settings: OAuthSettings) throws(OAuthError) -> Scope {
        let scope = Scope(requested)
        if scope.isEmpty { return Scope(settings.defaultScope) }
        let unknown = scope.values.filter { !settings.supportedScopes.contains($0) }
        guard unknown.isEmpty else {
            throw OAuthError(.invalidScope, "unsupported scope: \(unknown.joined(separator: " "))")
        }
        return scope
    }
}
