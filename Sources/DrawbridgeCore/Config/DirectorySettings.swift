import Foundation

/// Where the platform's existing users live and how to read them. Drawbridge never writes there.
public struct DirectorySettings: Sendable {
    public var url: PostgresURL
    public var source: Source
    /// Which fields a typed user name may match, in order of preference, case-insensitively.
    public var loginBy: [Field]
    /// Optional query that lists every user (same six columns, no parameter), for `check` and provisioning sync.
    public var listQuery: String?
    public var maxConnections: Int

    public init(url: PostgresURL, source: Source, loginBy: [Field] = [.login, .email], listQuery: String? = nil, maxConnections: Int = 10) {
        self.url = url
        self.source = source
        self.loginBy = loginBy
        self.listQuery = listQuery
        self.maxConnections = maxConnections
    }

    /// A user field Drawbridge reads from the platform table.
    public enum Field: String, Sendable, CaseIterable {
        case id, login, email, name, password, active
    }

    public enum Source: Sendable {
        /// A table and its column names; Drawbridge writes the (parameterised) queries.
        case table(TableReference, columns: ColumnMapping)
        /// The operator's own `SELECT` with one parameter `$1` (the typed user name), returning
        /// id, login, email, name, password hash and active flag in that order.
        case lookupQuery(String)
    }
}

/// A possibly schema-qualified table name, validated as plain identifiers so it can be quoted safely.
public struct TableReference: Sendable, Equatable, CustomStringConvertible {
    public var schema: String?
    public var name: String

    public init(schema: String?, name: String) {
        self.schema = schema
        self.name = name
    }

    /// Parses `accounts` or `public.accounts`; nil if a part is not a plain SQL identifier.
    public init?(parsing text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), parts.allSatisfy(SQLIdentifier.isPlain) else { return nil }
        self.schema = parts.count == 2 ? parts[0] : nil
        self.name = parts[parts.count - 1]
    }

    public var description: String { schema.map { "\($0).\(name)" } ?? name }

    /// The quoted form for SQL text.
    public var quoted: String {
        (schema.map { SQLIdentifier.quote($0) + "." } ?? "") + SQLIdentifier.quote(name)
    }
}

/// Column names for each user field; `active` may be absent when the platform has no such flag.
public struct ColumnMapping: Sendable, Equatable {
    public var id: String
    public var login: String
    public var email: String
    public var name: String?
    public var password: String
    public var active: String?

    public init(id: String = "id", login: String = "login", email: String = "email", name: String? = "name", password: String = "password", active: String? = "active") {
        self.id = id
        self.login = login
        self.email = email
        self.name = name
        self.password = password
        self.active = active
    }

    public func column(for field: DirectorySettings.Field) -> String? {
        switch field {
        case .id: id
        case .login: login
        case .email: email
        case .name: name
        case .password: password
        case .active: active
        }
    }
}

/// Identifiers come from the operator's config; they are still checked and quoted, never pasted raw.
public enum SQLIdentifier {
    public static func isPlain(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, text.utf8.count <= 63 else { return false }
        let isStart: (Unicode.Scalar) -> Bool = { ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || $0 == "_" }
        return isStart(first) && text.unicodeScalars.allSatisfy { isStart($0) || ($0 >= "0" && $0 <= "9") || $0 == "$" }
    }

    public static func quote(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
